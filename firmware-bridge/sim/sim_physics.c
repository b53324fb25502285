/* sim_physics.c — joint dynamics for the simulator: critically damped position tracking, first-order velocity
 * tracking, effort through an inertia with viscous damping; accelerations limited by effort_max, velocities by
 * vel_max, positions by the joint limits (hard stops). */
#include "sim_physics.h"

#include <math.h>
#include <string.h>

#define OMEGA 40.0   /* rad/s: position loop natural frequency (critically damped) */
#define K_VEL 40.0   /* 1/s: velocity loop gain */
#define INERTIA 0.05 /* kg·m² (or kg) per joint */
#define DAMPING 0.1  /* N·m·s/rad viscous friction, always present */

double sim_uniform(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

static double gaussian(uint64_t *state) { /* Box-Muller */
  double u1 = sim_uniform(state), u2 = sim_uniform(state);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

void sim_physics_init(sim_physics_t *p, unsigned joints, const sbp_joint_limits_t *limits, double noise,
                      uint64_t seed) {
  unsigned j;
  memset(p, 0, sizeof *p);
  p->joints = joints;
  memcpy(p->limits, limits, sizeof p->limits);
  p->noise = noise;
  p->rng = seed;
  for (j = 0; j < joints; j++) p->position[j] = clamp(0.0, limits[j].pos_min, limits[j].pos_max);
  sim_physics_measure(p);
}

void sim_physics_step(sim_physics_t *p, const sbp_output_t *out, double dt) {
  unsigned j;
  for (j = 0; j < p->joints; j++) {
    const sbp_joint_limits_t *lim = &p->limits[j];
    double x = p->position[j], v = p->velocity[j], target = out->targets[j], torque;
    if (out->kind == SBP_OUTPUT_DISABLE) {
      torque = 0.0;
    } else if (out->mode == SBP_MODE_POSITION) {
      torque = INERTIA * (OMEGA * OMEGA * (target - x) - 2.0 * OMEGA * v);
    } else if (out->mode == SBP_MODE_VELOCITY) {
      torque = INERTIA * K_VEL * (target - v);
    } else {
      torque = target;
    }
    torque = clamp(torque, -lim->effort_max, lim->effort_max);
    v += (torque - DAMPING * v) / INERTIA * dt; /* semi-implicit Euler */
    v = clamp(v, -lim->vel_max, lim->vel_max);
    x += v * dt;
    if (x <= lim->pos_min) {
      x = lim->pos_min;
      if (v < 0.0) v = 0.0;
    } else if (x >= lim->pos_max) {
      x = lim->pos_max;
      if (v > 0.0) v = 0.0;
    }
    p->position[j] = x;
    p->velocity[j] = v;
    p->effort[j] = torque;
  }
  sim_physics_measure(p);
}

void sim_physics_measure(sim_physics_t *p) {
  unsigned j;
  for (j = 0; j < p->joints; j++) {
    double nx = p->noise > 0.0 ? p->noise * gaussian(&p->rng) : 0.0;
    double nv = p->noise > 0.0 ? 10.0 * p->noise * gaussian(&p->rng) : 0.0;
    p->measured_position[j] = (float)(p->position[j] + nx);
    p->measured_velocity[j] = (float)(p->velocity[j] + nv);
    p->measured_effort[j] = (float)p->effort[j];
  }
}
