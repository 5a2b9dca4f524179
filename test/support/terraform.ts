/**
 * Synthesizes a stack into a temporary project and drives the real `terraform` binary on it.
 */
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalDirectoryStore, openSecrets, STATE_KEY_VARIABLE } from '../../src/runtime/state';
import { TEST_STATE_KEY } from './env';

export interface RunResult {
  readonly code: number;
  /** stdout and stderr, merged. */
  readonly output: string;
}

export class TerraformProject {
  readonly dir: string;
  readonly stackName: string;
  /** Extra environment for terraform (and so for the handler). */
  env: Record<string, string> = {};
  /** Declares the stack's Terraform backend; unset: a local state file in the project folder. */
  backend?: (stack: TerraformStack) => void;
  private initialized = false;

  constructor(stackName = 'test') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgstacks-e2e-'));
    this.stackName = stackName;
    fs.writeFileSync(path.join(this.dir, 'cdktf.json'), JSON.stringify({ app: 'true', language: 'typescript' }));
  }

  get outdir(): string {
    return path.join(this.dir, 'cdktf.out');
  }

  get stackDir(): string {
    return path.join(this.outdir, 'stacks', this.stackName);
  }

  get store(): LocalDirectoryStore {
    return new LocalDirectoryStore(path.join(this.dir, '.pgstacks', 'state'));
  }

  /** Synthesizes `build`'s stack into cdktf.out, as `cdktf synth` would. */
  synth(build: (stack: TerraformStack) => void): string {
    const app = new App({ outdir: this.outdir, context: { cdktfJsonPath: path.join(this.dir, 'cdktf.json') } });
    const stack = new TerraformStack(app, this.stackName);
    if (this.backend) this.backend(stack);
    else new LocalBackend(stack, { path: path.join(this.dir, 'terraform.tfstate') });
    build(stack);
    app.synth();
    return fs.readFileSync(path.join(this.stackDir, 'cdk.tf.json'), 'utf8');
  }

  /** What terraform (and so the handler) runs with: the test state key, then `env`. */
  processEnv(): NodeJS.ProcessEnv {
    return { ...process.env, [STATE_KEY_VARIABLE]: TEST_STATE_KEY, ...this.env };
  }

  /** A record's secret outputs, opened with the key terraform ran with. */
  async secrets(id: string): Promise<Record<string, string>> {
    const record = await this.store.get(this.stackName, id);
    return record?.secretOutputs ? openSecrets(record.secretOutputs, this.processEnv()[STATE_KEY_VARIABLE]) : {};
  }

  /** Runs terraform without blocking the event loop (the test servers live in this process). */
  terraform(args: string[], cwd = this.stackDir): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('terraform', [...args, '-no-color'], { cwd, env: this.processEnv() });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, output }));
    });
  }

  async init(cwd = this.stackDir): Promise<void> {
    const result = await this.terraform(['init', '-input=false'], cwd);
    if (result.code !== 0) throw new Error(`terraform init failed:\n${result.output}`);
    this.initialized = true;
  }

  async apply(extra: string[] = [], cwd = this.stackDir): Promise<RunResult> {
    if (!this.initialized) await this.init(cwd);
    return this.terraform(['apply', '-auto-approve', '-input=false', ...extra], cwd);
  }

  /** apply that must succeed; returns what Terraform printed. */
  async applyOk(extra: string[] = [], cwd = this.stackDir): Promise<string> {
    const result = await this.apply(extra, cwd);
    if (result.code !== 0) throw new Error(`terraform apply failed (${result.code}):\n${result.output}`);
    return result.output;
  }

  /** `terraform plan -detailed-exitcode`: code 0 = no changes, 2 = changes. */
  async plan(): Promise<RunResult> {
    if (!this.initialized) await this.init();
    return this.terraform(['plan', '-input=false', '-detailed-exitcode']);
  }

  destroy(extra: string[] = []): Promise<RunResult> {
    return this.terraform(['destroy', '-auto-approve', '-input=false', ...extra]);
  }

  async destroyOk(extra: string[] = []): Promise<string> {
    const result = await this.destroy(extra);
    if (result.code !== 0) throw new Error(`terraform destroy failed (${result.code}):\n${result.output}`);
    return result.output;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
