import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import * as api from '@kubets/proto/cri/runtime/v1/api';
import { ImageServiceService, RuntimeServiceService } from '@kubets/proto/cri/runtime/v1/api';

/** Like ts-proto's DeepPartial: every field optional, recursively (int64 fields are bigint). */
export type DeepPartial<T> = T extends Uint8Array | string | number | boolean | bigint | undefined
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

export interface CallOptions {
  /** Deadline of this call in ms. Default: the client's timeoutMs. */
  timeoutMs?: number;
  /** Cancels the call (it then fails with code CANCELLED). */
  signal?: AbortSignal;
}

export interface CriClientOptions {
  /** Deadline of every call unless a call says otherwise. Default 2 minutes (kubelet's --runtime-request-timeout). */
  timeoutMs?: number;
  /** The ImageService endpoint when it differs from the runtime's (kubelet's --image-service-endpoint). */
  imageEndpoint?: string;
}

/** A failed CRI call: the gRPC status code (and its name), the runtime's message, and the method. */
export class CriError extends Error {
  override readonly name = 'CriError';
  constructor(
    /** The gRPC status code, e.g. status.NOT_FOUND (5). */
    readonly code: status,
    /** The runtime's own message (gRPC status details). */
    readonly details: string,
    /** The full method path, e.g. /runtime.v1.ImageService/PullImage. */
    readonly method: string,
  ) {
    super(`${method}: ${status[code] ?? code}: ${details}`);
  }

  /** The code's name, e.g. NOT_FOUND. */
  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }
}

/** True when `err` is a CriError with one of `codes`. */
export function isCriError(err: unknown, ...codes: status[]): err is CriError {
  return err instanceof CriError && (codes.length === 0 || codes.includes(err.code));
}

/**
 * Turns the kubelet's endpoint forms into a grpc-js target:
 * `unix:///run/containerd/containerd.sock`, `/run/containerd/containerd.sock`
 * (a bare path) and `tcp://host:port` / `host:port`.
 */
export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return `unix://${endpoint.slice('unix://'.length)}`;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  if (endpoint.startsWith('tcp://')) return endpoint.slice('tcp://'.length);
  return endpoint;
}

interface MethodDefinition<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (value: Buffer) => Res;
}

interface MessageFns<T> {
  fromPartial(object: never): T;
}

const CHANNEL_OPTIONS = {
  // CRI responses (ListContainers, ListImages on big nodes) can be large.
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
};

/**
 * A CRI client: RuntimeService and ImageService (k8s.io/cri-api runtime.v1)
 * over a unix socket. Every method takes a partial request (missing fields
 * take their proto3 defaults; int64 fields are bigint) and resolves with the
 * decoded response, or rejects with a CriError at the runtime's error or the
 * call's deadline (DEADLINE_EXCEEDED).
 */
export class CriClient {
  readonly endpoint: string;
  readonly imageEndpoint: string;
  private readonly runtimeChannel: Client;
  private readonly imageChannel: Client;
  private readonly timeoutMs: number;

  constructor(endpoint: string, options: CriClientOptions = {}) {
    this.endpoint = endpoint;
    this.imageEndpoint = options.imageEndpoint ?? endpoint;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.runtimeChannel = new Client(grpcTarget(endpoint), credentials.createInsecure(), CHANNEL_OPTIONS);
    this.imageChannel =
      this.imageEndpoint === endpoint
        ? this.runtimeChannel
        : new Client(grpcTarget(this.imageEndpoint), credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** Resolve once the runtime's socket accepts a connection, or reject at the deadline. */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    const wait = (c: Client) =>
      new Promise<void>((resolve, reject) =>
        c.waitForReady(Date.now() + timeoutMs, (err) =>
          err ? reject(new Error(`CRI endpoint not ready within ${timeoutMs} ms: ${err.message}`)) : resolve(),
        ),
      );
    return this.imageChannel === this.runtimeChannel
      ? wait(this.runtimeChannel)
      : Promise.all([wait(this.runtimeChannel), wait(this.imageChannel)]).then(() => undefined);
  }

  close(): void {
    this.runtimeChannel.close();
    if (this.imageChannel !== this.runtimeChannel) this.imageChannel.close();
  }

  private call<Req, Res>(
    channel: Client,
    def: MethodDefinition<Req, Res>,
    type: MessageFns<Req>,
    request: DeepPartial<Req>,
    options: CallOptions = {},
  ): Promise<Res> {
    const message = type.fromPartial(request as never);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Res>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new CriError(status.CANCELLED, 'aborted before the call', def.path));
        return;
      }
      const call = channel.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        message,
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, res?: Res) => {
          options.signal?.removeEventListener('abort', onAbort);
          if (err) reject(new CriError(err.code, err.details || err.message, def.path));
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private runtime<Req, Res>(
    def: MethodDefinition<Req, Res>,
    type: MessageFns<Req>,
    request: DeepPartial<Req>,
    options?: CallOptions,
  ): Promise<Res> {
    return this.call(this.runtimeChannel, def, type, request, options);
  }

  private image<Req, Res>(
    def: MethodDefinition<Req, Res>,
    type: MessageFns<Req>,
    request: DeepPartial<Req>,
    options?: CallOptions,
  ): Promise<Res> {
    return this.call(this.imageChannel, def, type, request, options);
  }

  // ---- RuntimeService ----

  version(request: DeepPartial<api.VersionRequest> = {}, options?: CallOptions): Promise<api.VersionResponse> {
    return this.runtime(RuntimeServiceService.version, api.VersionRequest, request, options);
  }

  status(request: DeepPartial<api.StatusRequest> = {}, options?: CallOptions): Promise<api.StatusResponse> {
    return this.runtime(RuntimeServiceService.status, api.StatusRequest, request, options);
  }

  updateRuntimeConfig(
    request: DeepPartial<api.UpdateRuntimeConfigRequest>,
    options?: CallOptions,
  ): Promise<api.UpdateRuntimeConfigResponse> {
    return this.runtime(RuntimeServiceService.updateRuntimeConfig, api.UpdateRuntimeConfigRequest, request, options);
  }

  runPodSandbox(request: DeepPartial<api.RunPodSandboxRequest>, options?: CallOptions): Promise<api.RunPodSandboxResponse> {
    return this.runtime(RuntimeServiceService.runPodSandbox, api.RunPodSandboxRequest, request, options);
  }

  stopPodSandbox(
    request: DeepPartial<api.StopPodSandboxRequest>,
    options?: CallOptions,
  ): Promise<api.StopPodSandboxResponse> {
    return this.runtime(RuntimeServiceService.stopPodSandbox, api.StopPodSandboxRequest, request, options);
  }

  removePodSandbox(
    request: DeepPartial<api.RemovePodSandboxRequest>,
    options?: CallOptions,
  ): Promise<api.RemovePodSandboxResponse> {
    return this.runtime(RuntimeServiceService.removePodSandbox, api.RemovePodSandboxRequest, request, options);
  }

  podSandboxStatus(
    request: DeepPartial<api.PodSandboxStatusRequest>,
    options?: CallOptions,
  ): Promise<api.PodSandboxStatusResponse> {
    return this.runtime(RuntimeServiceService.podSandboxStatus, api.PodSandboxStatusRequest, request, options);
  }

  listPodSandbox(
    request: DeepPartial<api.ListPodSandboxRequest> = {},
    options?: CallOptions,
  ): Promise<api.ListPodSandboxResponse> {
    return this.runtime(RuntimeServiceService.listPodSandbox, api.ListPodSandboxRequest, request, options);
  }

  createContainer(
    request: DeepPartial<api.CreateContainerRequest>,
    options?: CallOptions,
  ): Promise<api.CreateContainerResponse> {
    return this.runtime(RuntimeServiceService.createContainer, api.CreateContainerRequest, request, options);
  }

  startContainer(
    request: DeepPartial<api.StartContainerRequest>,
    options?: CallOptions,
  ): Promise<api.StartContainerResponse> {
    return this.runtime(RuntimeServiceService.startContainer, api.StartContainerRequest, request, options);
  }

  /** The call's deadline should exceed request.timeout (seconds of grace before the kill). */
  stopContainer(request: DeepPartial<api.StopContainerRequest>, options?: CallOptions): Promise<api.StopContainerResponse> {
    return this.runtime(RuntimeServiceService.stopContainer, api.StopContainerRequest, request, options);
  }

  removeContainer(
    request: DeepPartial<api.RemoveContainerRequest>,
    options?: CallOptions,
  ): Promise<api.RemoveContainerResponse> {
    return this.runtime(RuntimeServiceService.removeContainer, api.RemoveContainerRequest, request, options);
  }

  listContainers(
    request: DeepPartial<api.ListContainersRequest> = {},
    options?: CallOptions,
  ): Promise<api.ListContainersResponse> {
    return this.runtime(RuntimeServiceService.listContainers, api.ListContainersRequest, request, options);
  }

  containerStatus(
    request: DeepPartial<api.ContainerStatusRequest>,
    options?: CallOptions,
  ): Promise<api.ContainerStatusResponse> {
    return this.runtime(RuntimeServiceService.containerStatus, api.ContainerStatusRequest, request, options);
  }

  updateContainerResources(
    request: DeepPartial<api.UpdateContainerResourcesRequest>,
    options?: CallOptions,
  ): Promise<api.UpdateContainerResourcesResponse> {
    return this.runtime(
      RuntimeServiceService.updateContainerResources,
      api.UpdateContainerResourcesRequest,
      request,
      options,
    );
  }

  reopenContainerLog(
    request: DeepPartial<api.ReopenContainerLogRequest>,
    options?: CallOptions,
  ): Promise<api.ReopenContainerLogResponse> {
    return this.runtime(RuntimeServiceService.reopenContainerLog, api.ReopenContainerLogRequest, request, options);
  }

  /**
   * Run a command in a container to completion. request.timeout (seconds,
   * bigint) bounds the command; the call's deadline defaults to that plus 10 s.
   */
  execSync(request: DeepPartial<api.ExecSyncRequest>, options: CallOptions = {}): Promise<api.ExecSyncResponse> {
    const timeoutMs =
      options.timeoutMs ?? (request.timeout && request.timeout > 0n ? Number(request.timeout) * 1000 + 10_000 : undefined);
    return this.runtime(RuntimeServiceService.execSync, api.ExecSyncRequest, request, { ...options, timeoutMs });
  }

  exec(request: DeepPartial<api.ExecRequest>, options?: CallOptions): Promise<api.ExecResponse> {
    return this.runtime(RuntimeServiceService.exec, api.ExecRequest, request, options);
  }

  attach(request: DeepPartial<api.AttachRequest>, options?: CallOptions): Promise<api.AttachResponse> {
    return this.runtime(RuntimeServiceService.attach, api.AttachRequest, request, options);
  }

  portForward(request: DeepPartial<api.PortForwardRequest>, options?: CallOptions): Promise<api.PortForwardResponse> {
    return this.runtime(RuntimeServiceService.portForward, api.PortForwardRequest, request, options);
  }

  containerStats(
    request: DeepPartial<api.ContainerStatsRequest>,
    options?: CallOptions,
  ): Promise<api.ContainerStatsResponse> {
    return this.runtime(RuntimeServiceService.containerStats, api.ContainerStatsRequest, request, options);
  }

  listContainerStats(
    request: DeepPartial<api.ListContainerStatsRequest> = {},
    options?: CallOptions,
  ): Promise<api.ListContainerStatsResponse> {
    return this.runtime(RuntimeServiceService.listContainerStats, api.ListContainerStatsRequest, request, options);
  }

  // ---- ImageService ----

  listImages(request: DeepPartial<api.ListImagesRequest> = {}, options?: CallOptions): Promise<api.ListImagesResponse> {
    return this.image(ImageServiceService.listImages, api.ListImagesRequest, request, options);
  }

  /** response.image is undefined when the image is not present. */
  imageStatus(request: DeepPartial<api.ImageStatusRequest>, options?: CallOptions): Promise<api.ImageStatusResponse> {
    return this.image(ImageServiceService.imageStatus, api.ImageStatusRequest, request, options);
  }

  pullImage(request: DeepPartial<api.PullImageRequest>, options?: CallOptions): Promise<api.PullImageResponse> {
    return this.image(ImageServiceService.pullImage, api.PullImageRequest, request, options);
  }

  removeImage(request: DeepPartial<api.RemoveImageRequest>, options?: CallOptions): Promise<api.RemoveImageResponse> {
    return this.image(ImageServiceService.removeImage, api.RemoveImageRequest, request, options);
  }

  imageFsInfo(options?: CallOptions): Promise<api.ImageFsInfoResponse> {
    return this.image(ImageServiceService.imageFsInfo, api.ImageFsInfoRequest, {}, options);
  }

  // ---- conveniences ----

  /** The image when present (ImageStatus by reference), else undefined. */
  async findImage(image: string, options?: CallOptions): Promise<api.Image | undefined> {
    const res = await this.imageStatus({ image: { image } }, options);
    return res.image;
  }
}
