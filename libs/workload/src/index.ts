export {
  runWorkload,
  type WorkloadHostEnv,
  type WorkloadService,
  type WorkloadSpec,
} from './workload.host.js';
