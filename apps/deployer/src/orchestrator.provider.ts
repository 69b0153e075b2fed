import { spawn } from 'node:child_process';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { LocalDriver, type DeploymentPlan, type OrchestratorDriver } from '@libs/orchestrator';
import { join } from 'node:path';
import type { DeployerEnv } from './deployer.env.js';

export const ORCHESTRATOR_DRIVER = Symbol('ORCHESTRATOR_DRIVER');

/** Runs `runner fetch-krt` (the one fetch implementation) and fails with its output. */
function runFetchKrt(
  env: DeployerEnv,
  programs: string,
  plan: DeploymentPlan,
  dest: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(programs, 'runner/src/main.js'), 'fetch-krt'], {
      env: {
        PATH: env.PATH,
        HOME: env.HOME,
        KRE_PREFIX: plan.prefix,
        KRT_NATS_SERVER: env.NATS_URL,
        KRT_KRT_BUCKET: plan.krtBucket,
        KRT_VERSION: plan.versionName,
        KRT_BASE_PATH: dest,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`fetch-krt failed (exit ${code}): ${output.slice(-2_000).trim()}`)),
    );
  });
}

/** The configured driver; on start it adopts the workloads a previous deployer left running. */
@Injectable()
export class OrchestratorLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Orchestrator');
  constructor(@Inject(ORCHESTRATOR_DRIVER) private readonly driver: OrchestratorDriver) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.driver.adopt();
    this.logger.log('adopted running workloads');
  }

  /** Workloads keep running: a deployer restart must not interrupt traffic. */
  onApplicationShutdown(): Promise<void> {
    return this.driver.close();
  }
}

export function orchestratorDriverFactory(
  env: DeployerEnv,
  programsDir: string,
): OrchestratorDriver {
  if (env.ORCHESTRATOR === 'kubernetes') {
    throw new Error(
      'ORCHESTRATOR=kubernetes: the kubernetes driver is not available yet (issue #7); use local',
    );
  }
  return new LocalDriver({
    stateDir: env.stateDir,
    prefix: env.KRE_PREFIX,
    nodeBinary: process.execPath,
    programs: {
      entrypoint: join(programsDir, 'entrypoint/src/main.js'),
      runner: join(programsDir, 'runner/src/main.js'),
    },
    fetchKrt: (plan, dest) => runFetchKrt(env, programsDir, plan, dest),
    baseEnv: { PATH: env.PATH, HOME: env.HOME, NODE_ENV: env.NODE_ENV },
  });
}
