/**
 * The UDP port of the overlays' VXLAN traffic: chosen once for the whole swarm (`swarm init
 * --data-path-port`), stored on the cluster object and sent to every node with its network view.
 * Docker allows only the IANA registered range (1024–49151) and treats 0 as the default.
 */
import { invalidArgument } from '../common/errors.js';

export const DEFAULT_DATA_PATH_PORT = 4789;
export const DATA_PATH_PORT_MIN = 1024;
export const DATA_PATH_PORT_MAX = 49151;

/** The port to use for an init request's value (absent or 0: the default); refuses one out of range. */
export function dataPathPort(requested: number | undefined): number {
  if (requested === undefined || requested === 0) return DEFAULT_DATA_PATH_PORT;
  if (!Number.isInteger(requested) || requested < DATA_PATH_PORT_MIN || requested > DATA_PATH_PORT_MAX)
    throw invalidArgument(
      `Datapath port number is not in valid range (${DATA_PATH_PORT_MIN}-${DATA_PATH_PORT_MAX}) : ${requested}`,
    );
  return requested;
}
