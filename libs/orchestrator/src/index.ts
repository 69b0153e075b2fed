export {
  plan,
  type DeploymentPlan,
  type EntrypointRoutes,
  type PlanConfig,
  type PlanInput,
  type PortName,
  type WorkflowStreamSpec,
  type WorkloadSpec,
} from './deployment-plan.js';
