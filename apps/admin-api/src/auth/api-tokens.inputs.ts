import { Field, ID, InputType, Int } from '@nestjs/graphql';
import { IsInt, IsString, Matches, MaxLength, Min } from 'class-validator';

@InputType()
export class GenerateApiTokenInput {
  @Field({ description: 'Unique among your tokens.' })
  @Matches(/^[\w .:@-]{1,64}$/, {
    message: 'must be 1 to 64 letters, digits, spaces or _ . : @ -',
  })
  name!: string;

  @Field(() => Int, { description: 'Required: tokens always expire (at most API_TOKEN_MAX_DAYS).' })
  @IsInt()
  @Min(1, { message: 'must be at least 1' })
  expiresInDays!: number;
}

@InputType()
export class DeleteApiTokenInput {
  @Field(() => ID)
  @IsString()
  @MaxLength(100)
  id!: string;
}
