import type { Command } from 'commander';
import type { Cli, GlobalOptions } from '../cli/cli.js';
import { CliError, EXIT } from '../cli/exit-codes.js';
import { table } from '../cli/io.js';
import { parseDuration, poll } from '../cli/wait.js';

export interface RuntimeView {
  id: string;
  name: string;
  description: string;
  status: string;
  statusMessage: string | null;
  publishedVersion: string | null;
  requireInvocationKey: boolean;
  creationDate: string;
  entrypointAddress: { http: string; grpc: string; grpcMetadata: string[] };
}
const RUNTIME_FIELDS =
  'id name description status statusMessage publishedVersion requireInvocationKey creationDate entrypointAddress { http grpc grpcMetadata }';

interface WaitOptions extends GlobalOptions {
  wait?: boolean;
  timeout: string;
}

export function registerRuntimeCommands(program: Command, cli: Cli): void {
  const runtime = program.command('runtime').description('runtimes: the tenants versions run in');

  runtime
    .command('list')
    .description('the runtimes you are a member of (platform admins: all)')
    .action(
      cli.action<[], GlobalOptions>(async (options) => {
        const { runtimes } = await (
          await cli.client(options)
        ).graphql<{ runtimes: RuntimeView[] }>(`{ runtimes { ${RUNTIME_FIELDS} } }`);
        cli.print(options, runtimes, () =>
          table(
            ['ID', 'NAME', 'STATUS', 'PUBLISHED', 'KEY REQUIRED'],
            runtimes.map((r) => [
              r.id,
              r.name,
              r.status,
              r.publishedVersion,
              r.requireInvocationKey ? 'yes' : 'no',
            ]),
          ),
        );
      }),
    );

  runtime
    .command('create <id>')
    .description('create a runtime (you become its ADMIN); --wait until it is provisioned')
    .option('--name <name>', 'display name (default: the id)')
    .option('--description <text>', 'what it is for', '')
    .option('--wait', 'wait until the deployer has provisioned it (CREATED) or it failed')
    .option('--timeout <duration>', 'how long --wait waits (90, 5m)', '2m')
    .addHelpText('after', '\nExample:\n  kre runtime create demo --name Demo --wait')
    .action(
      cli.action<[string], WaitOptions & { name?: string; description: string }>(
        async (options, id) => {
          const client = await cli.client(options);
          const { createRuntime } = await client.graphql<{ createRuntime: RuntimeView }>(
            `mutation($input: CreateRuntimeInput!) { createRuntime(input: $input) { ${RUNTIME_FIELDS} } }`,
            { input: { id, name: options.name ?? id, description: options.description } },
          );
          let result = createRuntime;
          if (options.wait) {
            result = await poll(
              `runtime ${id} to be provisioned`,
              parseDuration(options.timeout),
              async () => {
                const { runtime: r } = await client.graphql<{ runtime: RuntimeView }>(
                  `query($id: ID!) { runtime(id: $id) { ${RUNTIME_FIELDS} } }`,
                  { id },
                );
                return r.status === 'CREATING' ? undefined : r;
              },
            );
          }
          cli.print(options, result, () => [
            `runtime ${result.id}: ${result.status}${result.statusMessage ? ` (${result.statusMessage})` : ''}`,
          ]);
          if (result.status === 'ERROR') {
            throw new CliError(
              `runtime ${id} could not be provisioned: ${result.statusMessage ?? 'see the deployer log'}`,
              EXIT.error,
            );
          }
        },
      ),
    );

  runtime
    .command('delete <id>')
    .description('delete a runtime and everything it owns (refused while a version runs)')
    .option('-m, --comment <text>', 'why (recorded in the audit log)', '')
    .option('--wait', 'wait until it is gone')
    .option('--timeout <duration>', 'how long --wait waits', '2m')
    .addHelpText('after', '\nExample:\n  kre runtime delete demo -m "demo over" --wait')
    .action(
      cli.action<[string], WaitOptions & { comment: string }>(async (options, id) => {
        const client = await cli.client(options);
        const { deleteRuntime } = await client.graphql<{
          deleteRuntime: { id: string; status: string };
        }>('mutation($input: DeleteRuntimeInput!) { deleteRuntime(input: $input) { id status } }', {
          input: { id, comment: options.comment },
        });
        if (options.wait) {
          await poll(`runtime ${id} to be deleted`, parseDuration(options.timeout), async () => {
            try {
              await client.graphql(`query($id: ID!) { runtime(id: $id) { id } }`, { id });
              return undefined;
            } catch (error) {
              if (error instanceof CliError && error.exitCode === EXIT.notFound) return true;
              throw error;
            }
          });
        }
        const status = options.wait ? 'DELETED' : deleteRuntime.status;
        cli.print(options, { id, status }, () => [`runtime ${id}: ${status}`]);
      }),
    );

  runtime
    .command('get <id>')
    .description("a runtime's status and its address at the gateway")
    .action(
      cli.action<[string], GlobalOptions>(async (options, id) => {
        const { runtime: r } = await (
          await cli.client(options)
        ).graphql<{ runtime: RuntimeView }>(
          `query($id: ID!) { runtime(id: $id) { ${RUNTIME_FIELDS} } }`,
          { id },
        );
        cli.print(options, r, () => [
          `runtime ${r.id} (${r.name}): ${r.status}${r.statusMessage ? ` (${r.statusMessage})` : ''}`,
          `  published version  ${r.publishedVersion ?? '-'}`,
          `  invocation key     ${r.requireInvocationKey ? 'required' : 'not required'}`,
          `  HTTP               ${r.entrypointAddress.http}/<rpc>`,
          `  gRPC               ${r.entrypointAddress.grpc} (${r.entrypointAddress.grpcMetadata.join(', ')})`,
        ]);
      }),
    );

  registerMemberCommands(runtime, cli);
}

interface Member {
  userId: string;
  email: string;
  role: string;
  creationDate: string;
}
const MEMBER_FIELDS = 'userId email role creationDate';
const ROLES = ['VIEWER', 'MANAGER', 'ADMIN'];

function roleOf(value: string): string {
  const role = value.toUpperCase();
  if (!ROLES.includes(role)) {
    throw new CliError(`"${value}" is not a role: use viewer, manager or admin`, EXIT.usage);
  }
  return role;
}

/** `kre runtime members list|add|remove|role`: who may do what on one runtime. */
function registerMemberCommands(runtime: Command, cli: Cli): void {
  const members = runtime
    .command('members')
    .description("a runtime's members and their roles (VIEWER < MANAGER < ADMIN)");
  const list = async (options: GlobalOptions, runtimeId: string) =>
    (
      await (
        await cli.client(options)
      ).graphql<{ runtimeMembers: Member[] }>(
        `query($r: ID!) { runtimeMembers(runtimeId: $r) { ${MEMBER_FIELDS} } }`,
        { r: runtimeId },
      )
    ).runtimeMembers;
  /** A member by email or user id. */
  const find = async (options: GlobalOptions, runtimeId: string, who: string) => {
    const found = (await list(options, runtimeId)).find((m) => m.email === who || m.userId === who);
    if (!found) {
      throw new CliError(`${who} is not a member of runtime ${runtimeId}`, EXIT.notFound);
    }
    return found;
  };

  members
    .command('list <runtime>')
    .description('the members of a runtime')
    .action(
      cli.action<[string], GlobalOptions>(async (options, runtimeId) => {
        const rows = await list(options, runtimeId);
        cli.print(options, rows, () =>
          table(
            ['EMAIL', 'ROLE', 'USER ID', 'SINCE'],
            rows.map((m) => [m.email, m.role, m.userId, m.creationDate]),
          ),
        );
      }),
    );
  members
    .command('add <runtime> <email>')
    .description('make an existing user a member (default role: viewer)')
    .option('--role <role>', 'viewer, manager or admin', 'viewer')
    .addHelpText(
      'after',
      '\nExample:\n  kre runtime members add demo bo@example.com --role manager',
    )
    .action(
      cli.action<[string, string], GlobalOptions & { role: string }>(
        async (options, runtimeId, email) => {
          const { addRuntimeMember } = await (
            await cli.client(options)
          ).graphql<{ addRuntimeMember: Member }>(
            `mutation($input: AddRuntimeMemberInput!) { addRuntimeMember(input: $input) { ${MEMBER_FIELDS} } }`,
            { input: { runtimeId, email, role: roleOf(options.role) } },
          );
          cli.print(options, addRuntimeMember, () => [
            `${email} is now ${addRuntimeMember.role} of runtime ${runtimeId}`,
          ]);
        },
      ),
    );
  members
    .command('remove <runtime> <member>')
    .description('remove a member (by email or user id)')
    .action(
      cli.action<[string, string], GlobalOptions>(async (options, runtimeId, who) => {
        const member = await find(options, runtimeId, who);
        const { removeRuntimeMember } = await (
          await cli.client(options)
        ).graphql<{ removeRuntimeMember: Member }>(
          `mutation($input: RemoveRuntimeMemberInput!) { removeRuntimeMember(input: $input) { ${MEMBER_FIELDS} } }`,
          { input: { runtimeId, userId: member.userId } },
        );
        cli.print(options, removeRuntimeMember, () => [
          `${member.email} is no longer a member of runtime ${runtimeId}`,
        ]);
      }),
    );
  members
    .command('role <runtime> <member> <role>')
    .description("change a member's role (by email or user id)")
    .addHelpText('after', '\nExample:\n  kre runtime members role demo bo@example.com admin')
    .action(
      cli.action<[string, string, string], GlobalOptions>(async (options, runtimeId, who, role) => {
        const wanted = roleOf(role);
        const member = await find(options, runtimeId, who);
        const { updateRuntimeMemberRole } = await (
          await cli.client(options)
        ).graphql<{ updateRuntimeMemberRole: Member }>(
          `mutation($input: UpdateRuntimeMemberRoleInput!) { updateRuntimeMemberRole(input: $input) { ${MEMBER_FIELDS} } }`,
          { input: { runtimeId, userId: member.userId, role: wanted } },
        );
        cli.print(options, updateRuntimeMemberRole, () => [
          `${member.email} is now ${updateRuntimeMemberRole.role} of runtime ${runtimeId}`,
        ]);
      }),
    );
}
