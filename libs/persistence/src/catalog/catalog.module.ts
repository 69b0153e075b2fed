import { type DynamicModule, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import {
  KRT_CHUNK_MODEL,
  KrtArchiveStore,
  RUNTIME_MODEL,
  RuntimesRepository,
  VERSION_MODEL,
  VersionsRepository,
} from './catalog.repositories.js';
import { krtChunkSchema, runtimeSchema, versionSchema } from './catalog.schemas.js';
import { ConfigCipher } from './config-cipher.js';
import {
  INVOCATION_KEY_MODEL,
  InvocationKeysRepository,
  invocationKeySchema,
} from './invocation-keys.repository.js';

/** Runtimes, versions, KRT archives and invocation keys in the platform database (admin-api and deployer). */
@Module({})
export class CatalogModule {
  static forRoot(options: { configEncryptionKey: string }): DynamicModule {
    return {
      module: CatalogModule,
      global: true,
      imports: [
        MongooseModule.forFeature([
          { name: RUNTIME_MODEL, schema: runtimeSchema },
          { name: VERSION_MODEL, schema: versionSchema },
          { name: KRT_CHUNK_MODEL, schema: krtChunkSchema },
          { name: INVOCATION_KEY_MODEL, schema: invocationKeySchema },
        ]),
      ],
      providers: [
        { provide: ConfigCipher, useValue: new ConfigCipher(options.configEncryptionKey) },
        RuntimesRepository,
        VersionsRepository,
        KrtArchiveStore,
        InvocationKeysRepository,
      ],
      exports: [
        RuntimesRepository,
        VersionsRepository,
        KrtArchiveStore,
        ConfigCipher,
        InvocationKeysRepository,
      ],
    };
  }
}
