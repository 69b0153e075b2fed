import { RuntimeRole, VersionStatus, roleIncludes, type VersionAction } from '@libs/core';
import { unsetConfigKeys, type VersionDoc } from '@libs/persistence';
import { Inject } from '@nestjs/common';
import {
  Args,
  ID,
  Mutation,
  Parent,
  Query,
  ResolveField,
  Resolver,
  Subscription,
} from '@nestjs/graphql';
import { ADMIN_API_ENV, type AdminApiEnv } from '../admin-api.env.js';
import { CurrentUser, RequireRuntimeRole } from '../auth/access.decorators.js';
import type { Principal } from '../auth/principal.js';
import { EffectiveRole } from '../auth/runtime-role.guard.js';
import { Runtime, entrypointAddress } from '../runtimes/runtimes.model.js';
import { NodeStatusService } from './node-status.service.js';
import {
  UnsetConfigurationInput,
  UpdateConfigurationInput,
  UpdateEntrypointAutoscaleInput,
  UpdateNodeAutoscaleInput,
  UpdateVersionScaleInput,
  VersionActionInput,
} from './versions.inputs.js';
import { autoscaleOf, entrypointAutoscaleOf, versionScaleOf } from './version-scale.js';
import { NodeStatusEvent, Version, VersionEvent } from './versions.model.js';
import { VersionEventsService } from './version-events.service.js';
import { VersionsService } from './versions.service.js';

@Resolver(() => Version)
export class VersionsResolver {
  constructor(
    private readonly versionsService: VersionsService,
    private readonly events: VersionEventsService,
    private readonly nodeStatus: NodeStatusService,
    @Inject(ADMIN_API_ENV) private readonly env: AdminApiEnv,
  ) {}

  /** Config values are shown to MANAGERs and ADMINs; VIEWERs see keys only. */
  private toVersion(doc: VersionDoc, role: RuntimeRole): Version {
    const mayRead = roleIncludes(role, RuntimeRole.MANAGER);
    const running = doc.status === VersionStatus.STARTED || doc.status === VersionStatus.PUBLISHED;
    return {
      id: doc._id,
      runtimeId: doc.runtimeId,
      name: doc.name,
      description: doc.description,
      status: doc.status,
      errors: doc.status === VersionStatus.ERROR && doc.statusMessage ? [doc.statusMessage] : [],
      krtVersion: doc.krt.krtVersion,
      creationDate: doc.createdAt,
      creationAuthor: doc.createdBy,
      publicationDate: doc.publishedAt ?? null,
      publicationAuthor: doc.publishedBy ?? null,
      config: {
        completed: unsetConfigKeys(doc.config).length === 0,
        vars: doc.config.map((entry) => ({
          key: entry.key,
          type: entry.type,
          isSet: entry.value !== undefined,
          value: mayRead ? this.versionsService.reveal(doc, entry) : null,
        })),
      },
      workflows: doc.krt.workflows.map((wf) => ({
        ...wf,
        nodes: wf.nodes.map((n) => ({
          ...n,
          autoscale: autoscaleOf(doc, wf.name, n.name),
          batch: n.batch ?? null,
          subscriptions: n.subscriptions.map((s) => ({ node: s.node, channel: s.channel ?? null })),
        })),
      })),
      docs: doc.krt.docs,
      entrypointAddress: running ? entrypointAddress(this.env, doc.runtimeId, doc.name) : null,
      scale: versionScaleOf(doc),
      entrypointAutoscale: entrypointAutoscaleOf(doc),
    };
  }

  /** One lifecycle mutation: VERSION_TRANSITIONS says what it does. */
  private async act(
    action: VersionAction,
    input: VersionActionInput,
    me: Principal,
    role: RuntimeRole,
  ): Promise<Version> {
    const doc = await this.versionsService.act(
      me,
      action,
      input.runtimeId,
      input.versionName,
      input.comment,
    );
    return this.toVersion(doc, role);
  }

  @Query(() => Version)
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  async version(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @Args('name') name: string,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(await this.versionsService.get(runtimeId, name), role);
  }

  @Query(() => [Version], { description: 'Newest first.' })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  async versions(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version[]> {
    return (await this.versionsService.list(runtimeId)).map((v) => this.toVersion(v, role));
  }

  @Query(() => String, {
    description: 'A file under docs/ of the version (Markdown, as uploaded).',
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  versionDocs(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @Args('name') name: string,
    @Args('path', { defaultValue: 'docs/README.md' }) path: string,
  ): Promise<string> {
    return this.versionsService.doc(runtimeId, name, path);
  }

  @Mutation(() => Version, {
    description: 'Needs a complete config. STARTING now; STARTED (or ERROR) when the job ends.',
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async startVersion(
    @Args('input') input: VersionActionInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.act('start', input, me, role);
  }

  @Mutation(() => Version, { description: 'STOPPING now; STOPPED when the job ends.' })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async stopVersion(
    @Args('input') input: VersionActionInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.act('stop', input, me, role);
  }

  @Mutation(() => Version, {
    description: "The runtime's only published version; the previous one goes back to STARTED.",
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async publishVersion(
    @Args('input') input: VersionActionInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.act('publish', input, me, role);
  }

  @Mutation(() => Version)
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async unpublishVersion(
    @Args('input') input: VersionActionInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.act('unpublish', input, me, role);
  }

  @Mutation(() => Version, {
    description: 'When CREATED, STOPPED or ERROR: a job removes the version and its archive.',
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async deleteVersion(
    @Args('input') input: VersionActionInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.act('delete', input, me, role);
  }

  @Mutation(() => Version, {
    description: 'Unknown keys are refused; a running version rolls onto the new values.',
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async updateVersionUserConfiguration(
    @Args('input') input: UpdateConfigurationInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(
      await this.versionsService.updateConfig(
        me,
        input.runtimeId,
        input.versionName,
        input.configurationVariables,
      ),
      role,
    );
  }

  @Mutation(() => Version, {
    description:
      "A version's idle time (scale to zero): after that many seconds without a call its workloads are released until the next call wakes it. null: the installation's default; 0: never.",
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async updateVersionScale(
    @Args('input') input: UpdateVersionScaleInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(
      await this.versionsService.updateScale(
        me,
        input.runtimeId,
        input.versionName,
        input.idleSeconds ?? null,
        input.comment,
      ),
      role,
    );
  }

  @Mutation(() => Version, {
    description:
      "A node's replica bounds (docs/lifecycle.md, \"Autoscaling\"): the deployer scales it between min and max on its backlog, starting at min; the runtime's quota caps the total. min and max null: back to the KRT's replicas.",
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async updateNodeAutoscale(
    @Args('input') input: UpdateNodeAutoscaleInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(await this.versionsService.updateNodeAutoscale(me, input), role);
  }

  @Mutation(() => Version, {
    description:
      'The entrypoint\'s replica bounds (docs/lifecycle.md, "Autoscaling"): the deployer scales it between min and max on its calls in flight, starting at min; the runtime\'s quota caps the total. min and max null: back to one replica.',
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async updateEntrypointAutoscale(
    @Args('input') input: UpdateEntrypointAutoscaleInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(await this.versionsService.updateEntrypointAutoscale(me, input), role);
  }

  @Mutation(() => Version, {
    description:
      'The keys lose their values (not set again, as after the upload); unknown keys are refused. Only while CREATED, STOPPED or ERROR.',
  })
  @RequireRuntimeRole(RuntimeRole.MANAGER, 'input.runtimeId')
  async unsetVersionUserConfiguration(
    @Args('input') input: UnsetConfigurationInput,
    @CurrentUser() me: Principal,
    @EffectiveRole() role: RuntimeRole,
  ): Promise<Version> {
    return this.toVersion(
      await this.versionsService.unsetConfig(me, input.runtimeId, input.versionName, input.keys),
      role,
    );
  }

  @Subscription(() => VersionEvent, {
    description: "Status changes and job steps of the runtime's versions.",
    resolve: (event: VersionEvent) => event,
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  watchVersion(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
  ): AsyncIterableIterator<VersionEvent> {
    return this.events.subscribe(runtimeId);
  }

  @Subscription(() => NodeStatusEvent, {
    description:
      "How each workload of a version is doing (KRE's watchNodeStatus): every node at once, then each change.",
    resolve: (event: NodeStatusEvent) => event,
  })
  @RequireRuntimeRole(RuntimeRole.VIEWER, 'runtimeId')
  async watchNodeStatus(
    @Args('runtimeId', { type: () => ID }) runtimeId: string,
    @Args('versionName') versionName: string,
  ): Promise<AsyncIterableIterator<NodeStatusEvent>> {
    return this.nodeStatus.subscribe(await this.versionsService.get(runtimeId, versionName));
  }
}

/** `Runtime.publishedVersion`: the runtime's published version, read on its own. */
@Resolver(() => Runtime)
export class PublishedVersionResolver {
  constructor(private readonly versionsService: VersionsService) {}

  @ResolveField(() => String, { nullable: true })
  publishedVersion(@Parent() runtime: Runtime): Promise<string | null> {
    return this.versionsService.publishedName(runtime.id);
  }
}
