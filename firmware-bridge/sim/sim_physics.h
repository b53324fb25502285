/* sim_physics.h — simulated joints: second-order dynamics toward the commanded target, joint limits,
 * optional Gaussian sensor noise. No I/O. */
#ifndef SIM_PHYSICS_H
#define SIM_PHYSICS_H

#include <stdint.h>

#include "sbp_node.h"

typedef struct {
  unsigned joints;
  sbp_joint_limits_t limits[SBP_MAX_JOINTS];
  double noise;
  uint64_t rng;
  double position[SBP_MAX_JOINTS];
  double velocity[SBP_MAX_JOINTS];
  double effort[SBP_MAX_JOINTS];
  /* measured: what STATE reports (true state plus noise), as floats for the wire */
  float measured_position[SBP_MAX_JOINTS];
  float measured_velocity[SBP_MAX_JOINTS];
  float measured_effort[SBP_MAX_JOINTS];
} sim_physics_t;

void sim_physics_init(sim_physics_t *p, unsigned joints, const sbp_joint_limits_t *limits, double noise,
                      uint64_t seed);
/* Advance dt seconds under the node's output, then refresh the measured arrays. */
void sim_physics_step(sim_physics_t *p, const sbp_output_t *out, double dt);
void sim_physics_measure(sim_physics_t *p);
/* Uniform in [0, 1), from the same seeded generator. */
double sim_uniform(uint64_t *state);

#endif
