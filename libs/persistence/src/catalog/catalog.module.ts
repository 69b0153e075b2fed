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

/** Runtimes, versions and KRT archives in the platform database (admin-api and deployer). */
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
        ]),
      ],
      providers: [
        { provide: ConfigCipher, useValue: new ConfigCipher(options.configEncryptionKey) },
        RuntimesRepository,
        VersionsRepository,
        KrtArchiveStore,
      ],
      exports: [RuntimesRepository, VersionsRepository, KrtArchiveStore, ConfigCipher],
    };
  }
}
