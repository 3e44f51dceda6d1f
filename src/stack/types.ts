/**
 * What a stack is once its compose files are read: the Engine API request bodies `stack deploy`
 * sends, before any of them is sent. Loading and converting are pure (src/stack/load.ts,
 * convert.ts); deploying them against a daemon is src/stack/deploy.ts.
 */
import type { ServiceSpec } from '../store/types.js';

/** One compose file as given with `-c`, in order: later files override earlier ones. */
export interface ComposeFile {
  /** As the user named it (errors name it this way); relative paths in it resolve against its directory. */
  path: string;
  content: string;
}

export interface LoadOptions {
  /** Variables for interpolation (the process environment, then `.env` fills what is unset). */
  env: Record<string, string | undefined>;
  /** Reads `env_file`, secret/config `file:` and `.env` contents; paths are absolute. */
  readFile(path: string): string;
  /** Directory a relative compose file path is relative to (default `/`); the CLI passes its cwd. */
  cwd?: string;
}

/** `POST /networks/create` body for a network the stack owns. */
export interface StackNetwork {
  /** Full name: `NS_key`, or the `name:` the file gives. */
  name: string;
  body: {
    Name: string;
    Driver: string;
    Labels: Record<string, string>;
    Attachable?: boolean;
    Internal?: boolean;
    Options?: Record<string, string>;
    IPAM?: { Driver?: string; Config?: { Subnet?: string; IPRange?: string; Gateway?: string }[] };
  };
}

/** `POST /secrets/create` or `/configs/create` body; Data is base64. */
export interface StackPayload {
  name: string;
  body: { Name: string; Labels: Record<string, string>; Data: string; Templating?: { Name: string } };
}

export interface StackService {
  /** Full name `NS_key`. */
  name: string;
  /**
   * The spec as docker's stack deploy builds it. Secret/config references carry SecretName/ConfigName
   * with an empty SecretID/ConfigID (filled in at deploy time); network targets are names.
   */
  spec: ServiceSpec;
}

export interface Stack {
  namespace: string;
  /** Networks to create when missing (`NS_default` only if some service uses it). */
  networks: StackNetwork[];
  /** Networks marked `external`: must exist, swarm-scoped. Full names. */
  externalNetworks: string[];
  secrets: StackPayload[];
  configs: StackPayload[];
  /** Names of `external: true` secrets/configs the services use. */
  externalSecrets: string[];
  externalConfigs: string[];
  services: StackService[];
  /** Printed before deploying, e.g. `Ignoring unsupported options: build, links`. */
  warnings: string[];
}
