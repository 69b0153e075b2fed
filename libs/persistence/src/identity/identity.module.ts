import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { API_TOKEN_MODEL, ApiTokensRepository, apiTokenSchema } from './api-tokens.repository.js';
import { SESSION_MODEL, SessionsRepository, sessionSchema } from './sessions.repository.js';
import { SignInLinksRepository } from './sign-in-links.repository.js';
import { AuditRepository, USER_ACTIVITY_MODEL, userActivitySchema } from './audit.repository.js';
import { SETTINGS_MODEL, SettingsRepository, settingsSchema } from './settings.repository.js';
import {
  MEMBERSHIP_MODEL,
  MembershipsRepository,
  membershipSchema,
} from './memberships.repository.js';
import { USER_MODEL, UsersRepository, userSchema } from './users.repository.js';

const repositories = [
  UsersRepository,
  MembershipsRepository,
  SessionsRepository,
  SignInLinksRepository,
  ApiTokensRepository,
  AuditRepository,
  SettingsRepository,
];

/** The identity collections of the platform database and their repositories. */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: USER_MODEL, schema: userSchema, collection: 'users' },
      { name: MEMBERSHIP_MODEL, schema: membershipSchema, collection: 'memberships' },
      { name: SESSION_MODEL, schema: sessionSchema, collection: 'sessions' },
      { name: API_TOKEN_MODEL, schema: apiTokenSchema, collection: 'api_tokens' },
      { name: USER_ACTIVITY_MODEL, schema: userActivitySchema, collection: 'user_activity' },
      { name: SETTINGS_MODEL, schema: settingsSchema, collection: 'settings' },
    ]),
  ],
  providers: repositories,
  exports: repositories,
})
export class IdentityModule {}
