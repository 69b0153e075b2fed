import { z } from 'zod';

/**
 * Scale to zero (docs/lifecycle.md, "Sleep and wake"): what gateways and the deployer say to
 * each other about idle versions. A running version is AWAKE (its workloads run), SLEEPING (all
 * of them released after its idle time; routes kept) or WAKING (a wake job brings them back).
 */
export const SCALE_STATES = ['AWAKE', 'SLEEPING', 'WAKING'] as const;
export type ScaleState = (typeof SCALE_STATES)[number];
export const scaleStateSchema = z.enum(SCALE_STATES);

const SLUG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const versionRef = z.strictObject({
  runtimeId: z.string().max(63).regex(SLUG, 'must be a runtime id'),
  versionName: z.string().max(63).regex(SLUG, 'must be a version name'),
});

/**
 * `<p>.svc.gateway.activity`: a version got calls (or still has some in flight), from one
 * gateway, at most once every few seconds per version. The deployer's idle clock restarts, and
 * entrypoint autoscaling sums the gateways' figures.
 */
export const versionActivitySchema = versionRef.extend({
  /** The reporting gateway (a process's own id): figures of several gateways are summed. */
  gateway: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'must be letters, digits, "_", "." or "-"')
    .optional(),
  /** The version's calls in flight through this gateway, on average since its previous report. */
  inFlight: z.number().finite().min(0).max(1_000_000).optional(),
});
export type VersionActivity = z.infer<typeof versionActivitySchema>;

/** `<p>.svc.gateway.wake` request: wake this version (idempotent; a burst makes one job). */
export const wakeRequestSchema = versionRef;
export type WakeRequest = z.infer<typeof wakeRequestSchema>;

/** The deployer's answer: the wake job is queued (or the version needs none), or why not. */
export const wakeReplySchema = z.object({
  queued: z.boolean(),
  message: z.string().optional(),
});
export type WakeReply = z.infer<typeof wakeReplySchema>;

/** The problems of a message, each with its field: `runtimeId: must be a runtime id; …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`)
    .join('; ');
}
