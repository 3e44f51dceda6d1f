/**
 * A network's subnet, gateway and VXLAN id, chosen once when the network is created (in the same
 * store transaction, on the leader) from the cluster's default address pool and the values every
 * other network holds. Pure over what the store holds, so a new leader computes what the old one
 * would have; nothing is kept aside.
 */
import { parseAddressPool } from '../../network/address-pool.js';
import { planNetworkIpam } from '../../network/network-ipam.js';
import { allocateVni, parseVniOption, VXLANID_OPTION } from '../../network/vni.js';
import type { ClusterObject, NetworkAllocation, NetworkObject, NetworkSpec } from '../../store/types.js';

/** The name and subnet Docker gives the routing mesh's network. */
export const INGRESS_NETWORK_NAME = 'ingress';

export function allocateNetwork(
  spec: NetworkSpec,
  cluster: ClusterObject | undefined,
  others: readonly NetworkObject[],
): NetworkAllocation {
  const pool = parseAddressPool(cluster?.DefaultAddrPool, cluster?.SubnetSize);
  const ipam = planNetworkIpam(
    spec.IPAMOptions.Configs,
    pool,
    others.map((n) => n.Allocation.Subnet),
  );
  const requested = spec.DriverConfiguration.Options[VXLANID_OPTION];
  const vni = allocateVni(
    others.map((n) => n.Allocation.VNI),
    requested === undefined ? undefined : parseVniOption(requested),
  );
  return { Subnet: ipam.subnet, Gateway: ipam.gateway, ...(ipam.ipRange ? { IPRange: ipam.ipRange } : {}), VNI: vni };
}
