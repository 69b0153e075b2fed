export {
  runWorkload,
  type WorkloadHostEnv,
  type WorkloadService,
  type WorkloadSpec,
} from './workload.host.js';
export { type GroupMember, WorkloadGroup } from './workload-group.js';
