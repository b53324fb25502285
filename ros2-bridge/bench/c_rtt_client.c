/* c_rtt_client.c — ros2_c_rtt_client: the C side of bench/ros2-rtt. Sends std_msgs/Float64MultiArray commands
 * at --rate Hz to ros2_robot_peer --echo and times each until the sensor_msgs/JointState naming it comes back
 * (joint j0's position = the command's sequence number), over the same Cyclone DDS and QoS Striatum uses
 * (commands reliable keep-last 10, joint states best effort keep-last 5, XCDR1). Prints one JSON line of
 * round-trip times in microseconds, sorted: {"count":N,"lost":L,"rtt_us":[...]}. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dds/dds.h"
#include "sensor_msgs.h"
#include "std_msgs.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int count = 1000, joints = 6;
  double rate = 500;
  double first_seq = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--count") == 0) count = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--rate") == 0) rate = atof(argv[i + 1]);
    else if (strcmp(argv[i], "--joints") == 0) joints = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--first-seq") == 0) first_seq = atof(argv[i + 1]);
  }
  const char *domain_env = getenv("ROS_DOMAIN_ID");
  dds_entity_t participant = dds_create_participant(domain_env ? (dds_domainid_t)atoi(domain_env) : 0, NULL, NULL);
  dds_data_representation_id_t xcdr1 = DDS_DATA_REPRESENTATION_XCDR1;
  dds_qos_t *cq = dds_create_qos();
  dds_qset_reliability(cq, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
  dds_qset_history(cq, DDS_HISTORY_KEEP_LAST, 10);
  dds_qset_data_representation(cq, 1, &xcdr1);
  dds_qos_t *sq = dds_create_qos();
  dds_qset_reliability(sq, DDS_RELIABILITY_BEST_EFFORT, 0);
  dds_qset_history(sq, DDS_HISTORY_KEEP_LAST, 5);
  dds_qset_data_representation(sq, 1, &xcdr1);
  dds_entity_t ct = dds_create_topic(participant, &std_msgs_msg_dds__Float64MultiArray__desc, "rt/forward_velocity_controller/commands", NULL, NULL);
  dds_entity_t st = dds_create_topic(participant, &sensor_msgs_msg_dds__JointState__desc, "rt/joint_states", NULL, NULL);
  dds_entity_t writer = dds_create_writer(participant, ct, cq, NULL);
  dds_entity_t reader = dds_create_reader(participant, st, sq, NULL);
  if (writer < 0 || reader < 0) { fprintf(stderr, "ros2_c_rtt_client: cannot open endpoints\n"); return 1; }
  dds_entity_t waitset = dds_create_waitset(participant);
  dds_entity_t readable = dds_create_readcondition(reader, DDS_ANY_STATE);
  dds_waitset_attach(waitset, readable, 0);
  /* Wait for the peer to match both ways. */
  for (int tries = 0; tries < 500; tries++) {
    dds_publication_matched_status_t pm;
    dds_subscription_matched_status_t sm;
    dds_get_publication_matched_status(writer, &pm);
    dds_get_subscription_matched_status(reader, &sm);
    if (pm.current_count > 0 && sm.current_count > 0) break;
    dds_sleepfor(DDS_MSECS(10));
  }
  double *values = calloc((size_t)joints, sizeof(double));
  double *rtts = calloc((size_t)count, sizeof(double));
  int got = 0, lost = 0;
  std_msgs_msg_dds__Float64MultiArray_ cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.data._length = cmd.data._maximum = (uint32_t)joints;
  cmd.data._buffer = values;
  const double period_us = 1e6 / rate;
  double slot = now_us();
  for (int k = 0; k < count; k++) {
    double seq = first_seq + k;
    values[0] = seq;
    double sent = now_us();
    dds_write(writer, &cmd);
    int answered = 0;
    while (!answered && now_us() - sent < 100000.0) {
      dds_waitset_wait(waitset, NULL, 0, DDS_MSECS(20));
      void *samples[1] = {NULL};
      dds_sample_info_t info;
      while (dds_take(reader, samples, &info, 1, 1) == 1) {
        sensor_msgs_msg_dds__JointState_ *m = samples[0];
        if (info.valid_data) {
          for (uint32_t i = 0; i < m->name._length; i++) {
            if (strcmp(m->name._buffer[i], "j0") == 0 && i < m->position._length && m->position._buffer[i] == seq) answered = 1;
          }
        }
        dds_return_loan(reader, samples, 1);
        samples[0] = NULL;
      }
    }
    if (answered) rtts[got++] = now_us() - sent;
    else lost++;
    slot += period_us;
    double wait = slot - now_us();
    if (wait > 0) {
      struct timespec ts = {(time_t)(wait / 1e6), (long)((wait - (double)(time_t)(wait / 1e6) * 1e6) * 1e3)};
      nanosleep(&ts, NULL);
    } else {
      slot = now_us();
    }
  }
  qsort(rtts, (size_t)got, sizeof(double), compare);
  printf("{\"count\":%d,\"lost\":%d,\"rtt_us\":[", got, lost);
  for (int i = 0; i < got; i++) printf("%s%.1f", i ? "," : "", rtts[i]);
  printf("]}\n");
  dds_delete(participant);
  return 0;
}
