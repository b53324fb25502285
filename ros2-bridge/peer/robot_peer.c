/* robot_peer.c — ros2_robot_peer: a ROS 2 robot in the style of ros2_control's fake hardware, for tests and
 * benches. Written with idlc-generated types over Cyclone DDS, independent of Striatum's TypeScript codec.
 *
 * It publishes sensor_msgs/JointState on /joint_states at --rate Hz (its joints, in reverse order, plus one
 * extra joint nobody configured), an rgb8 sensor_msgs/Image at 10 Hz when --image-topic is given, and
 * integrates the std_msgs/Float64MultiArray velocity commands it receives (position mode: jumps to them;
 * --trajectory: takes trajectory_msgs/JointTrajectory's first point, its velocities or positions). It echoes the e-stop topic it hears.
 * stdout: one JSON event a line ("ready", "stats" every second and at exit, "estop"). stdin lines:
 * "estop" publishes std_msgs/Bool true on the e-stop topic, "silence" stops the joint states, "quit".
 * --echo publishes a joint state the moment a command arrives (positions = the command), and only then: for
 * round-trip benchmarks.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "dds/dds.h"
#include "sensor_msgs.h"
#include "std_msgs.h"
#include "trajectory_msgs.h"

#define MAX_JOINTS 16
#define IMAGE_W 32
#define IMAGE_H 24

typedef struct {
  char *joint_names[MAX_JOINTS + 1];
  int joints;
  double rate_hz;
  int velocity_mode; /* 1 velocity, 0 position */
  int trajectory;
  int echo;
  const char *state_topic, *command_topic, *estop_topic, *image_topic;
  const char *extra_joint;
} options_t;

static options_t o;
static double positions[MAX_JOINTS], velocities[MAX_JOINTS], commands[MAX_JOINTS], max_abs_command[MAX_JOINTS];
static unsigned long command_count, states_published;
static int silenced, estop_heard;
static long long last_time_from_start_ns = -1;
static dds_entity_t participant, state_writer, command_reader, estop_writer, estop_reader, image_writer;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static char *topic_name(const char *ros_name) {
  static char names[8][256];
  static int next;
  char *n = names[next++ % 8];
  snprintf(n, 256, "rt%s", ros_name);
  return n;
}

static dds_qos_t *qos_for(int reliable, int depth) {
  dds_qos_t *q = dds_create_qos();
  dds_qset_reliability(q, reliable ? DDS_RELIABILITY_RELIABLE : DDS_RELIABILITY_BEST_EFFORT, DDS_MSECS(100));
  dds_qset_history(q, DDS_HISTORY_KEEP_LAST, depth);
  dds_data_representation_id_t xcdr1 = DDS_DATA_REPRESENTATION_XCDR1;
  dds_qset_data_representation(q, 1, &xcdr1);
  return q;
}

static dds_entity_t endpoint(const dds_topic_descriptor_t *desc, const char *ros_name, int writer, int reliable, int depth) {
  dds_qos_t *q = qos_for(reliable, depth);
  dds_entity_t topic = dds_create_topic(participant, desc, topic_name(ros_name), NULL, NULL);
  dds_entity_t e = writer ? dds_create_writer(participant, topic, q, NULL) : dds_create_reader(participant, topic, q, NULL);
  dds_delete_qos(q);
  if (topic < 0 || e < 0) {
    fprintf(stderr, "ros2_robot_peer: cannot open %s: %s\n", ros_name, dds_strretcode(e < 0 ? e : topic));
    exit(1);
  }
  return e;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Joint states name the joints in reverse order, with the extra joint in the middle: Striatum must match by name. */
static void publish_state(const double *pos, const double *vel) {
  char *names[MAX_JOINTS + 1];
  double p[MAX_JOINTS + 1], v[MAX_JOINTS + 1], e[MAX_JOINTS + 1];
  int n = 0;
  for (int j = o.joints - 1; j >= 0; j--) {
    if (j == o.joints / 2 && o.extra_joint != NULL) { names[n] = (char *)o.extra_joint; p[n] = 0.0; v[n] = 0.0; e[n] = 0.0; n++; }
    names[n] = o.joint_names[j]; p[n] = pos[j]; v[n] = vel[j]; e[n] = 0.0; n++;
  }
  sensor_msgs_msg_dds__JointState_ m;
  memset(&m, 0, sizeof m);
  double t = now_s();
  m.header.stamp.sec = (int32_t)t;
  m.header.stamp.nanosec = (uint32_t)((t - floor(t)) * 1e9);
  m.header.frame_id = "";
  m.name._length = m.name._maximum = (uint32_t)n; m.name._buffer = names;
  m.position._length = m.position._maximum = (uint32_t)n; m.position._buffer = p;
  m.velocity._length = m.velocity._maximum = (uint32_t)n; m.velocity._buffer = v;
  m.effort._length = m.effort._maximum = (uint32_t)n; m.effort._buffer = e;
  dds_write(state_writer, &m);
  states_published++;
}

static void publish_image(unsigned frame) {
  static uint8_t pixels[IMAGE_W * IMAGE_H * 3];
  for (unsigned i = 0; i < sizeof pixels; i++) pixels[i] = (uint8_t)(i + frame);
  sensor_msgs_msg_dds__Image_ m;
  memset(&m, 0, sizeof m);
  m.header.frame_id = "camera";
  m.height = IMAGE_H; m.width = IMAGE_W; m.encoding = "rgb8"; m.step = IMAGE_W * 3;
  m.data._length = m.data._maximum = sizeof pixels; m.data._buffer = pixels;
  dds_write(image_writer, &m);
}

/* Apply one command vector (already matched to the joints). Caller holds the lock. */
static void apply_command(const double *values, uint32_t n) {
  if (n != (uint32_t)o.joints) return;
  command_count++;
  for (int j = 0; j < o.joints; j++) {
    commands[j] = values[j];
    if (fabs(values[j]) > max_abs_command[j]) max_abs_command[j] = fabs(values[j]);
  }
  if (o.echo && !silenced) publish_state(commands, velocities);
}

static void on_command(dds_entity_t reader, void *arg) {
  (void)arg;
  void *samples[1] = {NULL};
  dds_sample_info_t info;
  while (dds_take(reader, samples, &info, 1, 1) == 1) {
    pthread_mutex_lock(&lock);
    if (info.valid_data && o.trajectory) {
      trajectory_msgs_msg_dds__JointTrajectory_ *m = samples[0];
      if (m->points._length > 0) {
        const trajectory_msgs_msg_dds__JointTrajectoryPoint_ *p = &m->points._buffer[0];
        const dds_sequence_double *v = o.velocity_mode ? &p->velocities : &p->positions;
        last_time_from_start_ns = (long long)p->time_from_start.sec * 1000000000LL + p->time_from_start.nanosec;
        apply_command(v->_buffer, v->_length);
      }
    } else if (info.valid_data) {
      std_msgs_msg_dds__Float64MultiArray_ *m = samples[0];
      apply_command(m->data._buffer, m->data._length);
    }
    pthread_mutex_unlock(&lock);
    dds_return_loan(reader, samples, 1);
    samples[0] = NULL;
  }
}

static void print_stats(const char *event) {
  pthread_mutex_lock(&lock);
  printf("{\"event\":\"%s\",\"commands\":%lu,\"states\":%lu,\"estop_heard\":%s,\"max_abs_command\":[", event, command_count,
         states_published, estop_heard ? "true" : "false");
  for (int j = 0; j < o.joints; j++) printf("%s%.17g", j ? "," : "", max_abs_command[j]);
  printf("],\"last_command\":[");
  for (int j = 0; j < o.joints; j++) printf("%s%.17g", j ? "," : "", commands[j]);
  printf("],\"time_from_start_ns\":%lld,\"positions\":[", last_time_from_start_ns);
  for (int j = 0; j < o.joints; j++) printf("%s%.17g", j ? "," : "", positions[j]);
  printf("]}\n");
  fflush(stdout);
  pthread_mutex_unlock(&lock);
}

static void handle_stdin(void) {
  char line[128];
  if (fgets(line, sizeof line, stdin) == NULL) { print_stats("exit"); exit(0); }
  if (strncmp(line, "estop", 5) == 0) {
    std_msgs_msg_dds__Bool_ b = {true};
    dds_write(estop_writer, &b);
    printf("{\"event\":\"estop_published\"}\n");
    fflush(stdout);
  } else if (strncmp(line, "silence", 7) == 0) {
    pthread_mutex_lock(&lock);
    silenced = 1;
    pthread_mutex_unlock(&lock);
  } else if (strncmp(line, "quit", 4) == 0) {
    print_stats("exit");
    exit(0);
  }
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s --joints a,b [--rate HZ] [--mode velocity|position] [--command-topic T] [--trajectory]\n"
                  "  [--state-topic T] [--estop-topic T] [--image-topic T] [--extra-joint NAME] [--echo] [--domain N]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  o.rate_hz = 200; o.velocity_mode = 1;
  o.state_topic = "/joint_states"; o.command_topic = "/forward_velocity_controller/commands"; o.estop_topic = "/striatum/estop";
  const char *domain_env = getenv("ROS_DOMAIN_ID"); /* as ROS 2 does: the DDS domain id */
  dds_domainid_t domain = domain_env != NULL ? (dds_domainid_t)atoi(domain_env) : 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--trajectory") == 0) { o.trajectory = 1; continue; }
    if (strcmp(a, "--echo") == 0) { o.echo = 1; continue; }
    if (v == NULL) usage(argv[0]);
    i++;
    if (strcmp(a, "--joints") == 0) {
      char *copy = strdup(v);
      for (char *t = strtok(copy, ","); t != NULL && o.joints < MAX_JOINTS; t = strtok(NULL, ",")) o.joint_names[o.joints++] = t;
    } else if (strcmp(a, "--rate") == 0) o.rate_hz = atof(v);
    else if (strcmp(a, "--mode") == 0) o.velocity_mode = strcmp(v, "velocity") == 0;
    else if (strcmp(a, "--command-topic") == 0) o.command_topic = v;
    else if (strcmp(a, "--state-topic") == 0) o.state_topic = v;
    else if (strcmp(a, "--estop-topic") == 0) o.estop_topic = v;
    else if (strcmp(a, "--image-topic") == 0) o.image_topic = v;
    else if (strcmp(a, "--extra-joint") == 0) o.extra_joint = v;
    else if (strcmp(a, "--domain") == 0) domain = (dds_domainid_t)atoi(v);
    else usage(argv[0]);
  }
  if (o.joints == 0 || !(o.rate_hz > 0)) usage(argv[0]);

  participant = dds_create_participant(domain, NULL, NULL);
  if (participant < 0) { fprintf(stderr, "ros2_robot_peer: participant: %s\n", dds_strretcode(participant)); return 1; }
  state_writer = endpoint(&sensor_msgs_msg_dds__JointState__desc, o.state_topic, 1, 1, 10);
  estop_writer = endpoint(&std_msgs_msg_dds__Bool__desc, o.estop_topic, 1, 1, 10);
  estop_reader = endpoint(&std_msgs_msg_dds__Bool__desc, o.estop_topic, 0, 1, 10);
  if (o.image_topic != NULL) image_writer = endpoint(&sensor_msgs_msg_dds__Image__desc, o.image_topic, 1, 0, 5);
  {
    const dds_topic_descriptor_t *desc = o.trajectory ? &trajectory_msgs_msg_dds__JointTrajectory__desc : &std_msgs_msg_dds__Float64MultiArray__desc;
    dds_qos_t *q = qos_for(1, 10);
    dds_entity_t topic = dds_create_topic(participant, desc, topic_name(o.command_topic), NULL, NULL);
    dds_listener_t *l = dds_create_listener(NULL);
    dds_lset_data_available(l, on_command);
    command_reader = dds_create_reader(participant, topic, q, l);
    dds_delete_listener(l);
    dds_delete_qos(q);
    if (command_reader < 0) { fprintf(stderr, "ros2_robot_peer: command reader: %s\n", dds_strretcode(command_reader)); return 1; }
  }
  printf("{\"event\":\"ready\",\"joints\":%d,\"rate_hz\":%g}\n", o.joints, o.rate_hz);
  fflush(stdout);

  const double dt = 1.0 / o.rate_hz;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  unsigned long tick = 0;
  const unsigned long ticks_per_second = (unsigned long)(o.rate_hz + 0.5);
  const unsigned long ticks_per_image = ticks_per_second / 10 > 0 ? ticks_per_second / 10 : 1;
  for (;;) {
    pthread_mutex_lock(&lock);
    for (int j = 0; j < o.joints; j++) {
      if (o.velocity_mode) { velocities[j] = commands[j]; positions[j] += commands[j] * dt; }
      else { velocities[j] = (commands[j] - positions[j]) / dt; positions[j] = commands[j]; }
    }
    if (!silenced && !o.echo) publish_state(positions, velocities); /* --echo: joint states answer commands only */
    pthread_mutex_unlock(&lock);
    if (image_writer != 0 && tick % ticks_per_image == 0) publish_image((unsigned)tick);
    {
      void *samples[1] = {NULL};
      dds_sample_info_t info;
      while (dds_take(estop_reader, samples, &info, 1, 1) == 1) {
        if (info.valid_data && ((std_msgs_msg_dds__Bool_ *)samples[0])->data && !estop_heard) {
          estop_heard = 1;
          printf("{\"event\":\"estop\",\"data\":true}\n");
          fflush(stdout);
        }
        dds_return_loan(estop_reader, samples, 1);
        samples[0] = NULL;
      }
    }
    if (++tick % ticks_per_second == 0) print_stats("stats");
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(STDIN_FILENO, &fds);
    struct timeval zero = {0, 0};
    if (select(STDIN_FILENO + 1, &fds, NULL, NULL, &zero) > 0) handle_stdin();
    next.tv_nsec += (long)(dt * 1e9);
    while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
}
