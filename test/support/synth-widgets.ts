/** A cdktf app for tests that need a synth in its own process: `tsx synth-widgets.ts <outdir> <count>`. */
import { App, TerraformStack } from 'cdktf';
import { Widget } from './widget';

const [outdir, count] = process.argv.slice(2);
const app = new App({ outdir });
const stack = new TerraformStack(app, 'test');
for (let i = 0; i < Number(count); i++) new Widget(stack, `w${i}`, { endpoint: 'http://127.0.0.1:9', name: `w${i}`, size: 1 });
app.synth();
