import 'reflect-metadata';
import { loadEnvOrExit } from '@libs/config';
import { startHttpApp } from '@libs/observability';
import { AdminApiModule, configureAdminApi } from './admin-api.module.js';
import { adminApiEnvSchema } from './admin-api.env.js';
import { SIGNIN_LINK_USAGE, signInLinkCommand } from './cli/signin-link.command.js';

const env = loadEnvOrExit('admin-api', adminApiEnvSchema);
// No arguments: the server. `signin-link <email>`: a host command, run beside the server.
const [command, ...args] = process.argv.slice(2);
if (command === 'signin-link') {
  process.exitCode = await signInLinkCommand(env, args);
} else if (command !== undefined) {
  process.stderr.write(`unknown command "${command}"\n${SIGNIN_LINK_USAGE}`);
  process.exitCode = 64;
} else {
  await startHttpApp(
    'admin-api',
    AdminApiModule.forRoot(env),
    env,
    { host: env.ADMIN_API_HOST, port: env.ADMIN_API_PORT },
    (app) => configureAdminApi(app, env),
  );
}
