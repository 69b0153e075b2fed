import type protobuf from 'protobufjs';
import type { AnyMessage } from './payload.js';
import { kreProtos } from './proto-root.js';

/** KRE's message types (`kre.nats.MessageType`). */
export enum MessageType {
  UNDEFINED = 0,
  OK = 1,
  ERROR = 2,
  EARLY_REPLY = 3,
  EARLY_EXIT = 4,
}

/** The envelope (`kre.nats.KreNatsMessage`), wire-compatible with KRE's. */
export interface KreMessage {
  requestId: string;
  payload?: AnyMessage;
  error?: string;
  fromNode: string;
  messageType: MessageType;
}

/** A NATS message that is not a valid envelope; the message says what is wrong. */
export class InvalidMessageError extends Error {
  constructor(reason: string) {
    super(`invalid message: ${reason}`);
    this.name = 'InvalidMessageError';
  }
}

interface WireEnvelope {
  request_id?: string;
  payload?: AnyMessage | null;
  error?: string;
  from_node?: string;
  message_type?: number;
}

let envelopeType: protobuf.Type | undefined;
const type = () => (envelopeType ??= kreProtos().lookupType('kre.nats.KreNatsMessage'));

/** Encodes an envelope (uncompressed; see `compressToFit`). */
export function encodeEnvelope(message: KreMessage): Uint8Array {
  const wire: WireEnvelope = {
    request_id: message.requestId,
    from_node: message.fromNode,
    message_type: message.messageType,
  };
  if (message.payload) wire.payload = message.payload;
  if (message.error) wire.error = message.error;
  return type().encode(wire).finish();
}

/**
 * Decodes and checks an envelope (already decompressed). KRE-era senders' `UNDEFINED` type
 * counts as OK.
 * @throws InvalidMessageError when the bytes are not an envelope or a required field is empty.
 */
export function decodeEnvelope(bytes: Uint8Array): KreMessage {
  let wire: WireEnvelope;
  try {
    wire = type().decode(bytes) as WireEnvelope;
  } catch (error) {
    throw new InvalidMessageError(
      `not a kre.nats.KreNatsMessage (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const messageType: number = wire.message_type ?? 0;
  if (!(messageType in MessageType))
    throw new InvalidMessageError(`unknown message_type ${messageType}`);
  if (!wire.request_id) throw new InvalidMessageError('request_id is empty');
  if (!wire.from_node) throw new InvalidMessageError('from_node is empty');
  const out: KreMessage = {
    requestId: wire.request_id,
    fromNode: wire.from_node,
    messageType: messageType === 0 ? MessageType.OK : messageType,
  };
  if (wire.payload && wire.payload.type_url)
    out.payload = {
      type_url: wire.payload.type_url,
      value: wire.payload.value ?? new Uint8Array(),
    };
  if (wire.error) out.error = wire.error;
  if (out.messageType === MessageType.ERROR && !out.error)
    throw new InvalidMessageError('an ERROR message without an error text');
  return out;
}
