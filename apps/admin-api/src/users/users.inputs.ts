import { PlatformRole } from '@libs/core';
import { Field, ID, InputType } from '@nestjs/graphql';
import { ArrayMaxSize, ArrayNotEmpty, IsEmail, IsEnum, IsString, MaxLength } from 'class-validator';

@InputType()
export class CreateUserInput {
  @Field()
  @IsEmail({}, { message: 'must be an email address' })
  @MaxLength(254)
  email!: string;

  @Field(() => PlatformRole)
  @IsEnum(PlatformRole, { message: 'must be ADMIN or USER' })
  platformRole!: PlatformRole;
}

@InputType()
export class UsersInput {
  @Field(() => [ID])
  @ArrayNotEmpty({ message: 'must list at least one user id' })
  @ArrayMaxSize(100)
  @IsString({ each: true })
  userIds!: string[];

  @Field({ description: 'Why: recorded in the audit log.' })
  @IsString()
  @MaxLength(500)
  comment!: string;
}

@InputType()
export class UpdatePlatformRoleInput extends UsersInput {
  @Field(() => PlatformRole)
  @IsEnum(PlatformRole, { message: 'must be ADMIN or USER' })
  platformRole!: PlatformRole;
}
