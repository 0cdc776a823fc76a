// The kubelet's HTTPS server: container logs and exec for the API server.
export { KubeletServer, defaultKubeletAuthorizer } from './server';
export type { ContainerResolver, KubeletRequestAttributes, KubeletServerOptions, KubeletUser, ResolvedContainer } from './server';
export { CriLogAssembler, fixedNano, parseLogOptions, streamLogs } from './logs';
export type { LogLine, LogOptions, LogSink } from './logs';
export { parseExecParams, proxyToStreamingServer, V4_PROTOCOL, V5_PROTOCOL } from './exec';
export type { ExecParams } from './exec';
export { execOverWebSocket } from './ws-client';
export type { WebSocketExecOptions, WebSocketExecResult } from './ws-client';
export { KubeletHttpError } from './status';
