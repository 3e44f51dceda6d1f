/**
 * Data the docker-captured cases ran on (docker 28.2.2), trimmed to the fields they use:
 *   docker create --name tpl-test-1 --label a=1 --label com.example.x='hello world' --label empty= \
 *     -e FOO=bar -e 'HTML=<b>&' -v /tmp:/data --mount type=volume,target=/vol -p 8080:80 \
 *     shoal-test/busybox:1 sh -c 'echo hi'
 *   docker inspect tpl-test-1                                           -> container
 *   docker image ls --filter 'reference=shoal-test/*' --format '{{json .}}' -> images (Repository, Tag, ID)
 */
export const container: unknown = {
  Id: '985039e6e3a8cf20d47ffd2afd239167a986f3daecbea608ea4817121f117d10',
  Name: '/tpl-test-1',
  State: {
    Status: 'created',
    Running: false,
    Pid: 0,
    ExitCode: 0,
  },
  Config: {
    Image: 'shoal-test/busybox:1',
    Labels: {
      a: '1',
      'com.example.x': 'hello world',
      empty: '',
    },
    Env: ['FOO=bar', 'HTML=<b>&', 'PATH=/bin'],
    Cmd: ['sh', '-c', 'echo hi'],
    Volumes: null,
  },
  HostConfig: {
    RestartPolicy: {
      Name: 'no',
      MaximumRetryCount: 0,
    },
    Dns: [],
    CpuShares: 0,
  },
  Mounts: [
    {
      Type: 'volume',
      Name: '095ab1ad7779de77ecaed9c360ab44a98cea4e99486ec84e0e6799658eef5253',
      Source: '/var/lib/docker/volumes/095ab1ad7779de77ecaed9c360ab44a98cea4e99486ec84e0e6799658eef5253/_data',
      Destination: '/vol',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    },
    {
      Type: 'bind',
      Source: '/tmp',
      Destination: '/data',
      Mode: '',
      RW: true,
      Propagation: 'rprivate',
    },
  ],
};

export const images: unknown[] = [
  {
    Repository: 'shoal-test/fail',
    Tag: '1',
    ID: '72bc654c248f',
  },
  {
    Repository: 'shoal-test/busybox',
    Tag: '2',
    ID: '54986781bc49',
  },
  {
    Repository: 'shoal-test/busybox',
    Tag: '1',
    ID: 'ce2062e1e6c6',
  },
];
