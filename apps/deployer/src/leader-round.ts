import type { Logger } from '@nestjs/common';
import type { LeaderLease } from '@libs/jobs';

/**
 * One round of a sampler that one deployer runs for all (replica resources, node autoscaling):
 * `round` runs when this deployer holds the lease `name` (taken or renewed for three periods,
 * so a stopped holder's successor takes over within them). When Redis cannot be asked the round
 * runs anyway: duplicate samples from several deployers rather than none.
 */
export async function leaderRound(
  lease: LeaderLease,
  name: string,
  periodMs: number,
  round: () => Promise<unknown>,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  let leader: boolean;
  try {
    leader = await lease.holds(name, periodMs * 3);
  } catch (error) {
    logger.warn(`lease ${name} not readable (${String(error)}): sampling without it`);
    leader = true;
  }
  if (leader) await round();
}
