/** The Engine API objects as the CLI reads them (only the fields it uses). */
import type { ServiceSpec } from '../../store/types.js';

export interface WTlsInfo {
  TrustRoot?: string;
  CertIssuerSubject?: string;
  CertIssuerPublicKey?: string;
}

export interface WNode {
  ID: string;
  Spec: { Name?: string; Labels: Record<string, string>; Role: string; Availability: string };
  Description: {
    Hostname: string;
    Platform: { Architecture: string; OS: string };
    Resources: { NanoCPUs: number; MemoryBytes: number };
    Engine: { EngineVersion: string; Labels?: Record<string, string> };
    TLSInfo?: WTlsInfo;
  };
  Status: { State: string; Addr: string; Message?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string; Addr: string };
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
}

export interface WPort {
  Protocol?: string;
  TargetPort: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface WService {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Ports?: WPort[] };
  UpdateStatus?: { State: string; StartedAt?: string; CompletedAt?: string; Message?: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks: number };
}

export interface WTask {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  CreatedAt: string;
  Spec: { ContainerSpec?: { Image: string } };
  Status: { Timestamp: string; State: string; Message: string; Err?: string; PortStatus?: { Ports?: WPort[] } };
}

export function portText(p: WPort): string {
  return `*:${p.PublishedPort ?? ''}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
}
