import { join } from 'node:path';
import {
  type Deadline,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { KreHeader, kreProtoDir } from '@libs/messaging';
import type { RpcCalls } from './rpc-calls.js';
import { RpcError } from './rpc-error.js';

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

interface HealthRequest {
  service?: string;
}
interface ReflectionRequest {
  host?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string };
  all_extension_numbers_of_type?: string;
  list_services?: string;
  message_request?: string;
}

interface DescriptorMessage {
  name: string;
  field?: { name: string; typeName?: string }[];
  nestedType?: (DescriptorMessage & { options?: { mapEntry?: boolean } })[];
  enumType?: { name: string }[];
}
interface DescriptorFile {
  name: string;
  package?: string;
  dependency: string[];
  messageType?: DescriptorMessage[];
  enumType?: { name: string }[];
  service?: { method?: { inputType?: string; outputType?: string }[] }[];
}

const dependencyCache = new WeakMap<Buffer[], Buffer[]>();

/**
 * proto-loader describes one synthetic file per package (`dp.proto`, `google_protobuf.proto`)
 * with relative type names and no `dependency` lists, which reflection clients need to link
 * types across files: resolve the names and fill the lists in.
 */
function withDependencies(files: Buffer[]): Buffer[] {
  const cached = dependencyCache.get(files);
  if (cached) return cached;
  const decoded = files.map(
    (f) => descriptor.FileDescriptorProto.decode(f) as unknown as DescriptorFile,
  );
  // protoc names a map's entry type `<FieldName>Entry`; protobufjs names it `<FieldName>`, and
  // strict clients (grpcurl) refuse that.
  const renameMapEntries = (messages: DescriptorMessage[] = []) => {
    for (const m of messages) {
      for (const nested of m.nestedType ?? []) {
        if (!nested.options?.mapEntry || nested.name.endsWith('Entry')) continue;
        const field = m.field?.find((f) => f.typeName === nested.name);
        const expected = `${(field?.name ?? nested.name)
          .split('_')
          .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
          .join('')}Entry`;
        for (const f of m.field ?? []) if (f.typeName === nested.name) f.typeName = expected;
        nested.name = expected;
      }
      renameMapEntries(m.nestedType);
    }
  };
  for (const file of decoded) renameMapEntries(file.messageType);
  const fileOf = new Map<string, string>();
  const index = (
    file: DescriptorFile,
    prefix: string,
    messages: DescriptorMessage[] = [],
    enums: { name: string }[] = [],
  ) => {
    for (const e of enums) fileOf.set(`${prefix}.${e.name}`, file.name);
    for (const m of messages) {
      fileOf.set(`${prefix}.${m.name}`, file.name);
      index(file, `${prefix}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  for (const file of decoded)
    index(file, file.package ? `.${file.package}` : '', file.messageType, file.enumType);
  /** C++-like scoping (descriptor.proto): the innermost enclosing scope that has the name. */
  const resolveRef = (ref: string, scope: string): string | undefined => {
    if (ref.startsWith('.')) return fileOf.has(ref) ? ref : undefined;
    for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
      const candidate = `${at}.${ref}`;
      if (fileOf.has(candidate)) return candidate;
      if (!at) return undefined;
    }
  };
  const out = decoded.map((file) => {
    const deps = new Set(file.dependency);
    const use = (ref: string | undefined, scope: string): string | undefined => {
      if (!ref) return ref;
      const full = resolveRef(ref, scope);
      if (!full) return ref;
      const owner = fileOf.get(full);
      if (owner && owner !== file.name) deps.add(owner);
      return full;
    };
    const pkgScope = file.package ? `.${file.package}` : '';
    const walk = (messages: DescriptorMessage[] = [], scope: string) => {
      for (const m of messages) {
        const inner = `${scope}.${m.name}`;
        for (const f of m.field ?? []) if (f.typeName) f.typeName = use(f.typeName, inner);
        walk(m.nestedType, inner);
      }
    };
    walk(file.messageType, pkgScope);
    for (const service of file.service ?? [])
      for (const method of service.method ?? []) {
        method.inputType = use(method.inputType, pkgScope);
        method.outputType = use(method.outputType, pkgScope);
      }
    file.dependency = [...deps].sort();
    return Buffer.from(descriptor.FileDescriptorProto.encode(file as never).finish());
  });
  dependencyCache.set(files, out);
  return out;
}

const remainingMs = (deadline: Deadline): number | undefined => {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? Math.max(1, at - Date.now()) : undefined;
};

const first = (md: Metadata, key: string): string | undefined => {
  const value = md.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The entrypoint's gRPC server: every unary rpc of the version's `service Entrypoint` (bytes
 * passed through, no re-encoding on the way in), the standard health service, and server
 * reflection (v1 and v1alpha) describing the version's proto.
 */
export class EntrypointGrpcServer {
  private readonly server: Server;
  private serving = false;
  private readonly watchers = new Set<ServerWritableStream<HealthRequest, unknown>>();

  constructor(
    private readonly calls: RpcCalls,
    maxRequestBytes: number,
  ) {
    this.server = new Server({
      'grpc.max_receive_message_length': maxRequestBytes,
      'grpc.max_send_message_length': -1,
    });
    this.addEntrypoint();
    this.addHealth();
    this.addReflection();
  }

  private addEntrypoint(): void {
    const definition: Record<string, protoLoader.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const rpc of this.calls.proto.rpcs.values()) {
      definition[rpc.name] = {
        ...(rpc.definition as unknown as protoLoader.MethodDefinition<Buffer, Buffer>),
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (bytes: Buffer) => bytes,
      };
      implementation[rpc.name] = rpc.streaming
        ? (call: { emit(event: 'error', error: object): void; end?: () => void }) =>
            call.emit('error', {
              code: status.UNIMPLEMENTED,
              details: `${rpc.path} is a streaming rpc: only unary rpcs are supported yet`,
            })
        : (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
            void this.unary(rpc.name, call, callback);
    }
    this.server.addService(definition, implementation);
  }

  private async unary(
    rpc: string,
    call: ServerUnaryCall<Buffer, Buffer>,
    callback: sendUnaryData<Buffer>,
  ): Promise<void> {
    const requestId = crypto.randomUUID();
    // The request id goes back in the trailers: sending initial metadata early costs an extra
    // HTTP/2 frame per call.
    const trailers = new Metadata();
    trailers.set(KreHeader.requestId, requestId);
    try {
      const response = await this.calls.callBinary(rpc, call.request, {
        requestId,
        deadlineMs: remainingMs(call.getDeadline()),
        traceparent: first(call.metadata, 'traceparent'),
        tracestate: first(call.metadata, 'tracestate'),
      });
      callback(
        null,
        Buffer.from(response.buffer, response.byteOffset, response.byteLength),
        trailers,
      );
    } catch (error) {
      const rpcError =
        error instanceof RpcError
          ? error
          : new RpcError('INTERNAL', error instanceof Error ? error.message : String(error));
      callback({ code: rpcError.grpcStatus, details: rpcError.message, metadata: trailers });
    }
  }

  private healthStatus(service: string): 'SERVING' | 'NOT_SERVING' | undefined {
    const known = ['', this.calls.proto.serviceName];
    if (!known.includes(service)) return undefined;
    return this.serving ? 'SERVING' : 'NOT_SERVING';
  }

  private addHealth(): void {
    const pkg = protoLoader.loadSync(
      join(kreProtoDir(), 'grpc/health/v1/health.proto'),
      LOADER_OPTIONS,
    );
    this.server.addService(pkg['grpc.health.v1.Health'] as protoLoader.ServiceDefinition, {
      Check: (call: ServerUnaryCall<HealthRequest, unknown>, callback: sendUnaryData<unknown>) => {
        const state = this.healthStatus(call.request.service ?? '');
        if (!state)
          callback({
            code: status.NOT_FOUND,
            details: `unknown service "${call.request.service}"`,
          });
        else callback(null, { status: state });
      },
      Watch: (call: ServerWritableStream<HealthRequest, unknown>) => {
        call.write({ status: this.healthStatus(call.request.service ?? '') ?? 'SERVICE_UNKNOWN' });
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
      },
    });
  }

  private addReflection(): void {
    const definitions = [
      this.calls.proto.packageDefinition,
      protoLoader.loadSync(join(kreProtoDir(), 'grpc/health/v1/health.proto'), LOADER_OPTIONS),
    ];
    const reflection = (version: 'v1' | 'v1alpha') =>
      protoLoader.loadSync(
        join(kreProtoDir(), `grpc/reflection/${version}/reflection.proto`),
        LOADER_OPTIONS,
      );
    const v1 = reflection('v1');
    const v1alpha = reflection('v1alpha');
    definitions.push(v1, v1alpha);

    // symbol → the file descriptors that define it (with their dependencies), file name → same.
    const bySymbol = new Map<string, Buffer[]>();
    const byFile = new Map<string, Buffer[]>();
    const services: string[] = [];
    for (const pkg of definitions) {
      for (const [name, def] of Object.entries(pkg)) {
        const isService = !('format' in def);
        const files = withDependencies(
          isService
            ? (Object.values(def)[0]?.requestType.fileDescriptorProtos ?? [])
            : (def as protoLoader.MessageTypeDefinition<object, object>).fileDescriptorProtos,
        );
        bySymbol.set(name, files);
        if (isService) {
          services.push(name);
          for (const method of Object.keys(def)) bySymbol.set(`${name}.${method}`, files);
        }
        for (const file of files) {
          const fileName = (descriptor.FileDescriptorProto.decode(file) as { name?: string }).name;
          if (fileName && !byFile.has(fileName)) byFile.set(fileName, files);
        }
      }
    }

    const answer = (request: ReflectionRequest) => {
      const base = { valid_host: request.host ?? '', original_request: request };
      const notFound = (what: string) => ({
        ...base,
        error_response: { error_code: status.NOT_FOUND, error_message: `${what} not found` },
      });
      switch (request.message_request ?? '') {
        case 'list_services':
          return {
            ...base,
            list_services_response: { service: services.map((name) => ({ name })) },
          };
        case 'file_containing_symbol': {
          const files = bySymbol.get(request.file_containing_symbol ?? '');
          return files
            ? { ...base, file_descriptor_response: { file_descriptor_proto: files } }
            : notFound(`symbol ${request.file_containing_symbol}`);
        }
        case 'file_by_filename': {
          const files = byFile.get(request.file_by_filename ?? '');
          return files
            ? { ...base, file_descriptor_response: { file_descriptor_proto: files } }
            : notFound(`file ${request.file_by_filename}`);
        }
        case 'all_extension_numbers_of_type':
          return {
            ...base,
            all_extension_numbers_response: {
              base_type_name: request.all_extension_numbers_of_type,
              extension_number: [],
            },
          };
        default:
          break;
      }
      return notFound('extension');
    };
    const serve = (call: ServerDuplexStream<ReflectionRequest, unknown>) => {
      call.on('data', (request: ReflectionRequest) => call.write(answer(request)));
      call.on('end', () => call.end());
    };
    for (const [pkg, name] of [
      [v1, 'grpc.reflection.v1.ServerReflection'],
      [v1alpha, 'grpc.reflection.v1alpha.ServerReflection'],
    ] as const)
      this.server.addService(pkg[name] as protoLoader.ServiceDefinition, {
        ServerReflectionInfo: serve,
      });
  }

  /** Listens on `host:port`; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(
        `${host}:${port}`,
        ServerCredentials.createInsecure(),
        (error, bound) => {
          if (error)
            reject(
              new Error(`cannot listen for gRPC on ${host}:${port}: ${error.message}`, {
                cause: error,
              }),
            );
          else {
            this.serving = true;
            resolve(bound);
          }
        },
      );
    });
  }

  get isServing(): boolean {
    return this.serving;
  }

  /** Stops taking calls and waits (at most `graceMs`) for those in progress. */
  async stop(graceMs: number): Promise<void> {
    this.serving = false;
    for (const watcher of this.watchers) {
      watcher.write({ status: 'NOT_SERVING' });
      watcher.end();
    }
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        done();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        done();
      });
    });
  }
}

export { RpcError };
