import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { kreProtoDir } from '@libs/messaging/workload';

/** As the standard services' clients expect them: proto field names, enums as names. */
const OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
};

/** A standard gRPC proto kept in `proto/` (`grpc/health/v1/health.proto`, reflection's). */
export function loadGrpcProto(rel: string): protoLoader.PackageDefinition {
  return protoLoader.loadSync(join(kreProtoDir(), rel), OPTIONS);
}
