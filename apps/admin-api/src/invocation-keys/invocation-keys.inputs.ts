import { Field, InputType } from '@nestjs/graphql';
import { IsDate, IsOptional, Matches } from 'class-validator';

@InputType()
export class CreateInvocationKeyInput {
  @Field({ description: 'Unique among the runtime’s keys, revoked ones included.' })
  @Matches(/^[\w .:@-]{1,64}$/, {
    message: 'must be 1 to 64 letters, digits, spaces or _ . : @ -',
  })
  name!: string;

  @Field(() => Date, {
    nullable: true,
    description: 'When the key stops working (in the future); absent: it works until revoked.',
  })
  @IsOptional()
  @IsDate({ message: 'must be a date' })
  expiresAt?: Date | null;
}
