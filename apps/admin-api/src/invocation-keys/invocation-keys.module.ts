import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { InvocationKeyUsageConsumer } from './invocation-key-usage.consumer.js';
import { InvocationKeysPublisher } from './invocation-keys.publisher.js';
import { InvocationKeysResolver } from './invocation-keys.resolver.js';
import { InvocationKeysService } from './invocation-keys.service.js';

/**
 * Invocation keys of runtimes (stored hashed in `invocation_keys`), published to the gateways'
 * KV bucket `<p>_invocation_keys`, and their last use as the gateways report it.
 */
@Module({
  imports: [AuditModule],
  providers: [
    InvocationKeysService,
    InvocationKeysResolver,
    InvocationKeysPublisher,
    InvocationKeyUsageConsumer,
  ],
  exports: [InvocationKeysService],
})
export class InvocationKeysModule {}
