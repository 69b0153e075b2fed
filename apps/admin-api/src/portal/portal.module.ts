import { Global, Module } from '@nestjs/common';
import { PortalController } from './portal.controller.js';
import { PortalService } from './portal.service.js';

/** Serves the built admin portal; PortalService is global so that /signin (auth) answers it too. */
@Global()
@Module({
  controllers: [PortalController],
  providers: [PortalService],
  exports: [PortalService],
})
export class PortalModule {}
