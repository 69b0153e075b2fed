import { type Server, type ServerDuplexStream, status } from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { loadGrpcProto } from './grpc-protos.loader.js';

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

type ReflectionPackage = Record<string, protoLoader.AnyDefinition>;

/**
 * Server reflection, `grpc.reflection.v1` and `v1alpha`, describing the given package definitions
 * (the version's proto, health) and itself, so grpcurl or Postman can list, describe and call
 * the version's rpcs without its `.proto`.
 *
 * Hand-written on purpose: grpc-node's `@grpc/reflection` (1.0.4, December 2024) was considered.
 * It indexes and links files as this does, but it keeps protobufjs' map-entry names, which
 * grpcurl refuses ("incorrect implicit map entry name", fullstorydev/grpcurl#519), it fails on
 * some cross-file references (grpc/grpc-node#3018, open), and it brings a second
 * @grpc/proto-loader (0.7, beside ours).
 */
export class GrpcReflectionService {
  private readonly v1 = loadGrpcProto('grpc/reflection/v1/reflection.proto');
  private readonly v1alpha = loadGrpcProto('grpc/reflection/v1alpha/reflection.proto');
  /** symbol → the file descriptors that define it (with their dependencies); file name → same. */
  private readonly bySymbol = new Map<string, Buffer[]>();
  private readonly byFile = new Map<string, Buffer[]>();
  private readonly services: string[] = [];

  constructor(definitions: readonly protoLoader.PackageDefinition[]) {
    for (const pkg of [...definitions, this.v1, this.v1alpha]) this.index(pkg);
  }

  private index(pkg: ReflectionPackage): void {
    for (const [name, def] of Object.entries(pkg)) {
      const isService = !('format' in def);
      const files = withDependencies(
        isService
          ? (Object.values(def)[0]?.requestType.fileDescriptorProtos ?? [])
          : (def as protoLoader.MessageTypeDefinition<object, object>).fileDescriptorProtos,
      );
      this.bySymbol.set(name, files);
      if (isService) {
        this.services.push(name);
        for (const method of Object.keys(def)) this.bySymbol.set(`${name}.${method}`, files);
      }
      for (const file of files) {
        const fileName = (descriptor.FileDescriptorProto.decode(file) as { name?: string }).name;
        if (fileName && !this.byFile.has(fileName)) this.byFile.set(fileName, files);
      }
    }
  }

  private answer(request: ReflectionRequest) {
    const base = { valid_host: request.host ?? '', original_request: request };
    const notFound = (what: string) => ({
      ...base,
      error_response: { error_code: status.NOT_FOUND, error_message: `${what} not found` },
    });
    switch (request.message_request ?? '') {
      case 'list_services':
        return {
          ...base,
          list_services_response: { service: this.services.map((name) => ({ name })) },
        };
      case 'file_containing_symbol': {
        const files = this.bySymbol.get(request.file_containing_symbol ?? '');
        return files
          ? { ...base, file_descriptor_response: { file_descriptor_proto: files } }
          : notFound(`symbol ${request.file_containing_symbol}`);
      }
      case 'file_by_filename': {
        const files = this.byFile.get(request.file_by_filename ?? '');
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
  }

  addTo(server: Server): void {
    const serve = (call: ServerDuplexStream<ReflectionRequest, unknown>) => {
      call.on('data', (request: ReflectionRequest) => call.write(this.answer(request)));
      call.on('end', () => call.end());
    };
    for (const [pkg, name] of [
      [this.v1, 'grpc.reflection.v1.ServerReflection'],
      [this.v1alpha, 'grpc.reflection.v1alpha.ServerReflection'],
    ] as const)
      server.addService(pkg[name] as protoLoader.ServiceDefinition, {
        ServerReflectionInfo: serve,
      });
  }
}
