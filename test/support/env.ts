/** Test-wide environment: no phoning home, and a Terraform CLI config that exists. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

process.env.CHECKPOINT_DISABLE = '1';
process.env.TF_IN_AUTOMATION = '1';
const cliConfig = path.join(os.tmpdir(), 'pgstacks-test-terraformrc');
if (!fs.existsSync(cliConfig)) fs.writeFileSync(cliConfig, '');
process.env.TF_CLI_CONFIG_FILE = cliConfig;

/** The state key tests deploy with (secret outputs are never stored in plain text by default). */
export const TEST_STATE_KEY = 'pgstacks test state key, not a secret';
