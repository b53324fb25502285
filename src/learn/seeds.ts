// Every seed range the learning loop uses (docs/seeds.md lists every range of the project). Evaluation seeds are disjoint from the seeds of
// training episodes, demonstrations and PRM training data, so a held-out success rate is held out.
//
//   demonstrations (scripted expert; BC base and the learner's demo buffer)   1 000 – 1 199
//   PRM training data (models/push-prm, trainer/prm.py)            10 000 – 90 299, PRM test 110 000 – 190 099
//   robot training episodes: run r, robot k, episode i     2 000 000 + r·100 000 + k·10 000 + i   (i < 10 000)
//   held-out evaluation (striatum learn, bench/learning, model cards)      9 000 000 – 9 000 199
export const SEEDS = {
  demonstrations: { first: 1000, last: 1199 },
  prmTraining: { first: 10_000, last: 190_099 },
  training: { first: 2_000_000, perRun: 100_000, perRobot: 10_000 },
  evaluation: { first: 9_000_000, last: 9_000_199 },
} as const;

/** First episode seed of robot k in run r. */
export function trainingSeed(run: number, robot: number): number {
  return SEEDS.training.first + run * SEEDS.training.perRun + robot * SEEDS.training.perRobot;
}

/** The ranges as [first, last] pairs, for learning-curve.json and model cards. */
export function seedRanges(run: number, robots: number, demos: number, demoFirst: number, evalEpisodes: number, evalFirst: number): Record<string, [number, number]> {
  return {
    demonstrations: [demoFirst, demoFirst + demos - 1],
    training: [trainingSeed(run, 0), trainingSeed(run, robots - 1) + SEEDS.training.perRobot - 1],
    evaluation: [evalFirst, evalFirst + evalEpisodes - 1],
    prm_training: [SEEDS.prmTraining.first, SEEDS.prmTraining.last],
  };
}
