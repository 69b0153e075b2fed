import { randomUUID } from 'node:crypto';
import { DomainError, type DomainErrorCode } from '@libs/core';
import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { GqlContextType } from '@nestjs/graphql';
import { ThrottlerException } from '@nestjs/throttler';
import type { Response } from 'express';
import { GraphQLError } from 'graphql';

const STATUS: Record<DomainErrorCode, number> = {
  BAD_USER_INPUT: HttpStatus.BAD_REQUEST,
  INVALID_OR_EXPIRED_LINK: HttpStatus.BAD_REQUEST,
  UNAUTHENTICATED: HttpStatus.UNAUTHORIZED,
  FORBIDDEN: HttpStatus.FORBIDDEN,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  CONFLICT: HttpStatus.CONFLICT,
  INVALID_TRANSITION: HttpStatus.CONFLICT,
  // The KRT error shape, as on every transport: {code: 'KRT_INVALID', message, errors}.
  KRT_INVALID: HttpStatus.UNPROCESSABLE_ENTITY,
};

const CODE_OF_STATUS: Record<number, string> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
};

const logger = new Logger('Errors');

/**
 * Logs an unexpected error with a fresh id (the client gets only the id). `answered` is what the
 * client was told instead, when that was more than `internal error`.
 */
export function logInternal(error: unknown, answered?: string): string {
  const errorId = randomUUID();
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  logger.error(
    answered === undefined
      ? `unhandled error ${errorId}: ${detail}`
      : `error ${errorId} (answered "${answered}"): ${detail}`,
  );
  return errorId;
}

/**
 * The internal error behind a domain error (a queue or database failure), logged with an id
 * that the answer carries: its text never reaches the client.
 */
function causeId(error: DomainError): { errorId?: string } {
  return error.cause === undefined ? {} : { errorId: logInternal(error.cause, error.message) };
}

/**
 * The one place errors become answers. Domain errors keep their code, message and details (the
 * internal error behind one, its `cause`, is logged under an error id the answer carries);
 * guards' and pipes' HTTP exceptions keep their status; anything else is logged with an error
 * id and the client sees only `internal error` and that id (no stack, no host names).
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): GraphQLError | void {
    if (host.getType<GqlContextType>() === 'graphql') return toGraphqlError(error);
    const res = host.switchToHttp().getResponse<Response>();
    if (error instanceof DomainError) {
      res
        .status(STATUS[error.code])
        .json({ code: error.code, message: error.message, ...error.details, ...causeId(error) });
    } else if (error instanceof ThrottlerException) {
      res.status(HttpStatus.TOO_MANY_REQUESTS).json({
        code: 'TOO_MANY_REQUESTS',
        message: 'too many requests: wait as long as the Retry-After header says, then try again',
      });
    } else if (error instanceof HttpException) {
      // Guards', pipes' and library routes' own bodies (e.g. /health's 503 report) stay as they are.
      const body = error.getResponse();
      const status = error.getStatus();
      res
        .status(status)
        .json(
          typeof body === 'string'
            ? { code: CODE_OF_STATUS[status] ?? 'ERROR', message: body }
            : body,
        );
    } else {
      const errorId = logInternal(error);
      res
        .status(HttpStatus.INTERNAL_SERVER_ERROR)
        .json({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error', errorId });
    }
  }
}

export function toGraphqlError(error: unknown): GraphQLError {
  if (error instanceof DomainError) {
    return new GraphQLError(error.message, {
      extensions: { code: error.code, ...error.details, ...causeId(error) },
    });
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return new GraphQLError(error.message, {
      extensions: { code: CODE_OF_STATUS[status] ?? 'ERROR', http: { status: 200 } },
    });
  }
  if (error instanceof GraphQLError) return error;
  const errorId = logInternal(error);
  return new GraphQLError('internal error', {
    extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
  });
}
