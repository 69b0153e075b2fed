import { BadUserInputError, type FieldError } from '@libs/core';
import {
  type ArgumentMetadata,
  Injectable,
  StandardSchemaValidationPipe,
  ValidationPipe,
  type ValidationError,
} from '@nestjs/common';

function flatten(errors: readonly ValidationError[], prefix: string): FieldError[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      // class-validator starts messages with the property name: say it once, in `field`.
      message: message.startsWith(`${error.property} `)
        ? message.slice(error.property.length + 1)
        : message,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/**
 * class-validator for GraphQL inputs: every invalid field at once, as `BAD_USER_INPUT` with
 * `errors: [{field: 'input.email', message}]`.
 */
@Injectable()
export class InputValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      stopAtFirstError: false,
      exceptionFactory: (errors) => new BadUserInputError(flatten(errors, '')),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    try {
      return (await super.transform(value, metadata)) as unknown;
    } catch (error) {
      if (!(error instanceof BadUserInputError) || !metadata.data) throw error;
      throw new BadUserInputError(
        error.errors.map((e) => ({ ...e, field: `${metadata.data}.${e.field}` })),
      );
    }
  }
}

/** zod (Standard Schema) for REST bodies, with the same `BAD_USER_INPUT` field errors. */
export const bodySchemaPipe = new StandardSchemaValidationPipe({
  exceptionFactory: (issues) =>
    new BadUserInputError(
      issues.map((issue) => ({
        field:
          (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.') ||
          '(body)',
        message: issue.message,
      })),
    ),
});
