import { dirname } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import type protobuf from 'protobufjs';
import { loadProtoRoot } from '@libs/messaging/workload';

/** One rpc of `service Entrypoint`. */
export interface RpcInfo {
  name: string;
  /** `/<package>.Entrypoint/<name>` */
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  streaming: boolean;
  /** proto-loader's method definition (for the gRPC server). */
  definition: protoLoader.MethodDefinition<object, object>;
}

/** The version's proto, loaded at run time. */
export interface VersionProto {
  root: protobuf.Root;
  /** Full name of the service (`greeter.Entrypoint`). */
  serviceName: string;
  rpcs: Map<string, RpcInfo>;
  /** proto-loader's package definition (file descriptors for reflection). */
  packageDefinition: protoLoader.PackageDefinition;
}

/** The proto cannot be served; the message says what to fix. */
export class VersionProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionProtoError';
  }
}

/**
 * Loads the version's `.proto` (imports resolve against its folder and the KRT root) and finds
 * its `service Entrypoint`, in whatever package.
 * @throws VersionProtoError when the file does not parse or has no (or several) Entrypoint.
 */
export function loadVersionProto(file: string, krtRoot: string): VersionProto {
  const includeDirs = [dirname(file), krtRoot];
  let packageDefinition: protoLoader.PackageDefinition;
  let root: protobuf.Root;
  try {
    packageDefinition = protoLoader.loadSync(file, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs,
    });
    root = loadProtoRoot(file, includeDirs);
  } catch (error) {
    throw new VersionProtoError(
      `cannot load the version's proto ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const services = Object.keys(packageDefinition).filter(
    (name) =>
      (name === 'Entrypoint' || name.endsWith('.Entrypoint')) &&
      !('format' in packageDefinition[name]),
  );
  if (services.length === 0)
    throw new VersionProtoError(
      `${file} declares no \`service Entrypoint\`: the entrypoint serves its rpcs`,
    );
  if (services.length > 1)
    throw new VersionProtoError(
      `${file} declares several \`service Entrypoint\` (${services.join(', ')}): keep one`,
    );
  const serviceName = services[0];
  const service = packageDefinition[serviceName] as protoLoader.ServiceDefinition;
  const rpcs = new Map<string, RpcInfo>();
  for (const [name, definition] of Object.entries(service)) {
    const method = root.lookup(`${serviceName}.${name}`) as protobuf.Method;
    method.resolve();
    if (!method.resolvedRequestType || !method.resolvedResponseType)
      throw new VersionProtoError(`${serviceName}.${name}: its message types do not resolve`);
    rpcs.set(name, {
      name,
      path: definition.path,
      requestType: method.resolvedRequestType,
      responseType: method.resolvedResponseType,
      streaming: definition.requestStream || definition.responseStream,
      definition,
    });
  }
  return { root, serviceName, rpcs, packageDefinition };
}
