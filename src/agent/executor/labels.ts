/** The labels shoal puts on task containers: Docker Swarm's, plus shoal's own ownership marks. */
export const LABEL = {
  task: 'com.docker.swarm.task',
  taskId: 'com.docker.swarm.task.id',
  taskName: 'com.docker.swarm.task.name',
  nodeId: 'com.docker.swarm.node.id',
  serviceId: 'com.docker.swarm.service.id',
  serviceName: 'com.docker.swarm.service.name',
  shoalCluster: 'io.shoal.cluster.id',
  shoalNode: 'io.shoal.node.id',
  shoalTask: 'io.shoal.task.id',
} as const;
