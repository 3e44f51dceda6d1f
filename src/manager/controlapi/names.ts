/** Random `adjective_name` service names for services created without --name, like Docker's. */
import type { Random } from '../../common/random.js';

const LEFT = [
  'brave',
  'calm',
  'eager',
  'fervent',
  'gallant',
  'happy',
  'jolly',
  'keen',
  'lucid',
  'nifty',
  'quirky',
  'serene',
  'vibrant',
  'zealous',
];
const RIGHT = [
  'babbage',
  'curie',
  'darwin',
  'euler',
  'gauss',
  'hopper',
  'kepler',
  'lovelace',
  'noether',
  'pascal',
  'ritchie',
  'turing',
];

export function randomName(random: Random): string {
  return `${LEFT[random.int(LEFT.length)]}_${RIGHT[random.int(RIGHT.length)]}`;
}
