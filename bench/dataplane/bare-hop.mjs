// One hop of the benchmark's floor, with no framework: consume from a durable consumer, publish
// the message on (JetStream) or answer the client (core NATS), then ack. Same bounded
// concurrency as a runner replica (16 in flight).
//   node bare-hop.mjs jetstream <nats-url> <stream> <consumer> <next-subject | reply>
//   node bare-hop.mjs core <nats-url> <subject> <next-subject | reply>
import { readFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { connect, credsAuthenticator } from '@nats-io/transport-node';

const [mode, url, ...rest] = process.argv.slice(2);
// The bench's credentials (env NATS_CREDS: a path): the server takes no anonymous connection.
const nc = await connect({
  servers: url,
  authenticator: credsAuthenticator(readFileSync(process.env.NATS_CREDS)),
});
const IN_FLIGHT = 16;

if (mode === 'jetstream') {
  const [stream, consumerName, next] = rest;
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, consumerName);
  const messages = await consumer.consume({ max_messages: IN_FLIGHT });
  let inFlight = 0;
  let wake;
  process.send?.('ready');
  for await (const m of messages) {
    while (inFlight >= IN_FLIGHT) await new Promise((done) => (wake = done));
    inFlight++;
    const done = () => {
      m.ack();
      inFlight--;
      wake?.();
    };
    if (next === 'reply') {
      nc.publish(m.headers.get('kre-reply-to'), m.data, { headers: m.headers });
      done();
    } else {
      js.publish(next, m.data, { headers: m.headers }).then(done, (error) => {
        console.error(String(error));
        m.nak();
        inFlight--;
      });
    }
  }
} else {
  const [subject, next] = rest;
  nc.subscribe(subject, {
    queue: 'bench',
    callback: (_error, m) => {
      if (next === 'reply') m.respond(m.data);
      else nc.publish(next, m.data, { reply: m.reply });
    },
  });
  await nc.flush();
  process.send?.('ready');
}
