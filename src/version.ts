/** The package's version, written into each record (a test keeps it equal to package.json's). */
export const VERSION = '0.1.0';
