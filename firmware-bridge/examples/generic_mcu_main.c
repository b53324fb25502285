/* generic_mcu_main.c — where the SBP library plugs into microcontroller firmware (Cortex-M, no RTOS).
 *
 *   UART RX interrupt ──bytes──▶ sbp_node_rx()  ──replies──▶ TX ring ──▶ UART TX interrupt
 *   timer interrupt (500 Hz) ──▶ read joints ─▶ sbp_node_tick() ─▶ STATE out, sbp_output_t ─▶ motor driver
 *
 * The two interrupts get the same NVIC priority, so neither preempts the other and the node needs no lock.
 * Everything marked BOARD is a stub standing in for your HAL: the register addresses are placeholders. The
 * library itself touches no hardware. Built by the Cortex-M4 CMake configuration for the size report. */
#include <stdint.h>
#include <string.h>

#include "sbp_node.h"

#define JOINTS 6u
#define TICK_HZ 500u

/* ---- BOARD: placeholder registers. Replace with your part's (e.g. USART1->DR, TIM2->CNT). ----------------- */

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define UART_DATA REG32(0x40011004u)      /* read: received byte; write: byte to send */
#define UART_TX_IRQ_ENABLE REG32(0x4001100Cu)
#define TIMER_US_COUNT REG32(0x40000024u) /* free-running 32-bit counter at 1 MHz */
#define SCB_VTOR REG32(0xE000ED08u)       /* vector table offset register (architectural) */
#define MOTOR_BASE 0x40020000u            /* one 16-byte block of registers per motor driver channel */

/* ---- BOARD: motor driver stubs ----------------------------------------------------------------------------- */

typedef struct {
  volatile uint32_t mode;   /* 0 position, 1 velocity, 2 effort, 3 disabled */
  volatile float target;
  volatile float position;  /* measured */
  volatile float velocity;
} motor_channel_t;

static motor_channel_t *motor(unsigned joint) { return (motor_channel_t *)(MOTOR_BASE + 16u * joint); }

static void motors_read(float *position, float *velocity, float *effort) {
  unsigned j;
  for (j = 0; j < JOINTS; j++) {
    position[j] = motor(j)->position;
    velocity[j] = motor(j)->velocity;
    effort[j] = 0.0f; /* from a current sensor, if the driver has one */
  }
}

/* Armed: follow the targets. Safe: the node already turned "safe" into hold targets or a disable. */
static void motors_apply(const sbp_output_t *out) {
  unsigned j;
  for (j = 0; j < JOINTS; j++) {
    motor(j)->mode = out->kind == SBP_OUTPUT_DISABLE ? 3u : out->mode;
    motor(j)->target = out->targets[j];
  }
}

/* ---- time: a 64-bit microsecond clock from a 32-bit timer -------------------------------------------------- */

static uint32_t clock_last;
static uint64_t clock_high;

/* Called at least once per tick (2 ms), far more often than the 71-minute wrap, so one wrap at most between
 * calls. Only called from the two same-priority interrupts: no race. */
static uint64_t clock_us(void *ctx) {
  uint32_t now = TIMER_US_COUNT;
  (void)ctx;
  if (now < clock_last) clock_high += (uint64_t)1u << 32;
  clock_last = now;
  return clock_high | now;
}

/* ---- UART transmit: a ring drained by the TX-empty interrupt, so the node never waits on the wire --------- */

#define TX_RING 1024u /* > 3 STATE frames of 16 joints */
static uint8_t tx_ring[TX_RING];
static volatile uint32_t tx_head, tx_tail; /* head: next to send; tail: next free */

static void uart_send(void *ctx, const uint8_t *wire, size_t len) {
  size_t i, free_bytes = TX_RING - 1u - ((tx_tail - tx_head) % TX_RING);
  (void)ctx;
  if (len > free_bytes) return; /* link slower than our output: drop whole frames, never half of one */
  for (i = 0; i < len; i++) tx_ring[(tx_tail + i) % TX_RING] = wire[i];
  tx_tail = (uint32_t)((tx_tail + len) % TX_RING);
  UART_TX_IRQ_ENABLE = 1u;
}

/* ---- the node ---------------------------------------------------------------------------------------------- */

static sbp_node_t node; /* 1.9 KB of RAM: decoder, two message buffers, one wire buffer */

/* UART interrupt: one byte in (RX) or one byte out (TX empty). */
void uart_irq_handler(void);
void uart_irq_handler(void) {
  uint8_t byte = (uint8_t)UART_DATA;
  sbp_node_rx(&node, &byte, 1u); /* whole frames are handled here, replies queued for TX */
  if (tx_head != tx_tail) {
    UART_DATA = tx_ring[tx_head];
    tx_head = (tx_head + 1u) % TX_RING;
  } else {
    UART_TX_IRQ_ENABLE = 0u;
  }
}

/* Timer interrupt at TICK_HZ: watchdog, STATE, motor outputs. */
void tick_irq_handler(void);
void tick_irq_handler(void) {
  float position[JOINTS], velocity[JOINTS], effort[JOINTS];
  const sbp_output_t *out;
  motors_read(position, velocity, effort);
  out = sbp_node_tick(&node, position, velocity, effort);
  motors_apply(out);
}

/* ---- start-up ---------------------------------------------------------------------------------------------- */

static void default_handler(void) {
  for (;;) {
  }
}

/* A minimal vector table: the core's entries we do not use go to default_handler; IRQ numbers are BOARD. */
typedef void (*vector_t)(void);
static const vector_t vectors[48] = {
    [2] = default_handler,       /* NMI */
    [3] = default_handler,       /* HardFault */
    [16 + 28] = tick_irq_handler, /* BOARD: timer IRQ */
    [16 + 31] = uart_irq_handler, /* BOARD: UART IRQ */
};

static void halt(const char *why) {
  (void)why; /* a debugger shows it; a product would blink an LED */
  for (;;) {
  }
}

int main(void) {
  sbp_node_config_t config;
  sbp_error_t err = {SBP_OK, NULL};
  unsigned j;
  memset(&config, 0, sizeof config);
  config.joint_count = JOINTS;
  for (j = 0; j < JOINTS; j++) { /* BOARD: from the robot's mechanical limits */
    config.limits[j].pos_min = -3.1f;
    config.limits[j].pos_max = 3.1f;
    config.limits[j].vel_max = 4.0f;
    config.limits[j].effort_max = 2.5f;
  }
  config.firmware_id = "generic-m4 1.0";
  config.schema_hash = SBP_SCHEMA_HASH;
  sbp_safety_config_default(&config.safety); /* 20 ms watchdog, 10 healthy commands, hold */
  config.clock_us = clock_us;
  config.send = uart_send;
  config.on_event = NULL; /* no logging on this board */
  if (!sbp_node_init(&node, &config, &err)) halt(SBP_GET_ERROR(&err));

  SCB_VTOR = (uint32_t)(uintptr_t)vectors;
  /* BOARD: set UART and timer interrupts to the same priority, start the TICK_HZ timer, enable RX IRQ. */
  for (;;) {
    /* everything happens in the two interrupts; sleep until the next one (WFI on a Cortex-M) */
  }
}
