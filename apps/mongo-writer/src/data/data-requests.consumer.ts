import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  type DataReply,
  DataRequestError,
  NATS_CONNECTION,
  decodeFindRequest,
  decodeSaveRequest,
  decompressIfNeeded,
  encodeDataReply,
} from '@libs/messaging';
import { Names } from '@libs/naming';
import { DataConflictError, RuntimeDataRepository } from './runtime-data.repository.js';

const RUNTIME_ID = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/**
 * Answers runners' data requests (`<p>.<rt>.data.save|find`, request/reply; all mongo-writer
 * replicas share them through one queue group). Transport only: decode and validate, call the
 * repository, encode the reply.
 */
@Injectable()
export class DataRequestsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DataRequestsConsumer.name);
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly names: Names,
    private readonly data: RuntimeDataRepository,
  ) {}

  onApplicationBootstrap(): void {
    for (const op of ['save', 'find'] as const) {
      const subject = this.names.dataSubject('*', op);
      this.subscriptions.push(
        this.nc.subscribe(subject, {
          queue: `${this.names.prefix}-mongo-writer`,
          callback: (error, msg) => {
            if (error) return;
            const task = this.answer(op, msg);
            this.inFlight.add(task);
            void task.finally(() => this.inFlight.delete(task));
          },
        }),
      );
      this.logger.log(`answering ${subject}`);
    }
  }

  private async answer(op: 'save' | 'find', msg: Msg): Promise<void> {
    const runtimeId = msg.subject.split('.')[1] ?? '';
    let reply: DataReply;
    try {
      if (!RUNTIME_ID.test(runtimeId))
        throw new DataRequestError(`"${runtimeId}" is not a runtime id`);
      const bytes = decompressIfNeeded(msg.data, MAX_REQUEST_BYTES);
      if (op === 'save') {
        const request = decodeSaveRequest(bytes);
        reply = { id: await this.data.insert(runtimeId, request.collection, request.document) };
      } else {
        const request = decodeFindRequest(bytes);
        reply = {
          documents: await this.data.find(
            runtimeId,
            request.collection,
            request.query,
            request.sort,
            request.limit,
          ),
        };
      }
    } catch (error) {
      const bad = error instanceof DataRequestError || error instanceof DataConflictError;
      const message = error instanceof Error ? error.message : String(error);
      if (!bad) this.logger.error(`db.${op} for runtime ${runtimeId} failed: ${message}`);
      reply = { error: message, errorCode: bad ? 'BAD_REQUEST' : 'INTERNAL' };
    }
    if (msg.reply) {
      let bytes = encodeDataReply(reply);
      if (bytes.length > (this.nc.info?.max_payload ?? 1024 * 1024) - 4096)
        bytes = encodeDataReply({
          error: `the answer is ${bytes.length} bytes, above the NATS max payload: ask for fewer documents (limit)`,
          errorCode: 'BAD_REQUEST',
        });
      msg.respond(bytes);
    }
  }

  /** Stop taking requests; answer those in progress. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const sub of this.subscriptions) sub.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
  }
}
