import {
  Args,
  Field,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
} from '@nestjs/graphql';
import { ArrayMaxSize, IsFQDN, IsInt, IsOptional, Max, Min } from 'class-validator';
import { CurrentUser, RequirePlatformAdmin } from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { SettingsService } from './settings.service.js';

@ObjectType()
export class Settings {
  @Field(() => [String], {
    description: 'Addresses in these domains may sign in without an account (one is created).',
  })
  authAllowedDomains!: string[];
  @Field(() => Int, { description: 'Absolute session lifetime, for sessions started from now on.' })
  sessionLifetimeInDays!: number;
  @Field(() => Int, {
    description: 'A session unused this long ends (sessions started from now on).',
  })
  sessionIdleMinutes!: number;
  @Field(() => Int, { description: 'How long an emailed sign-in link works (at most 10).' })
  signInLinkTtlMinutes!: number;
}

@InputType({ description: 'Only the fields given change.' })
export class SettingsInput {
  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(100)
  @IsFQDN({}, { each: true, message: 'must list domain names such as example.com' })
  authAllowedDomains?: string[];

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(365)
  sessionLifetimeInDays?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_440)
  sessionIdleMinutes?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10, { message: 'must be at most 10 (ASVS: out-of-band codes live 10 minutes at most)' })
  signInLinkTtlMinutes?: number;
}

@Resolver(() => Settings)
export class SettingsResolver {
  constructor(private readonly settingsService: SettingsService) {}

  @Query(() => Settings)
  @RequirePlatformAdmin()
  settings(): Promise<Settings> {
    return this.settingsService.get();
  }

  @Mutation(() => Settings, {
    description: 'Each changed setting is audited with its old and new value.',
  })
  @RequirePlatformAdmin()
  updateSettings(
    @Args('input') input: SettingsInput,
    @CurrentUser() me: Principal,
  ): Promise<Settings> {
    const { authAllowedDomains, ...numbers } = input;
    return this.settingsService.update(me, {
      ...numbers,
      ...(authAllowedDomains
        ? { authAllowedDomains: [...new Set(authAllowedDomains.map((d) => d.toLowerCase()))] }
        : {}),
    });
  }
}
