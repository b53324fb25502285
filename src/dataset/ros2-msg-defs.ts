// ROS 2 message definitions as MCAP `ros2msg` schemas carry them (what rosbag2 writes): the message's own
// definition, then each message it uses after a line of 80 '=' and `MSG: package/Name`.
const SEPARATOR = '================================================================================';

const TIME = 'int32 sec\nuint32 nanosec\n';
const HEADER = 'builtin_interfaces/Time stamp\nstring frame_id\n';

function withDependencies(main: string, deps: [string, string][]): string {
  return [main, ...deps.map(([name, text]) => `${SEPARATOR}\nMSG: ${name}\n${text}`)].join('\n');
}

export const ROS2_SCHEMAS = {
  'sensor_msgs/msg/JointState': withDependencies(
    'std_msgs/Header header\n\nstring[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n',
    [['std_msgs/Header', HEADER], ['builtin_interfaces/Time', TIME]],
  ),
  'std_msgs/msg/Float64MultiArray': withDependencies(
    'MultiArrayLayout layout\nfloat64[] data\n',
    [['std_msgs/MultiArrayLayout', 'MultiArrayDimension[] dim\nuint32 data_offset\n'], ['std_msgs/MultiArrayDimension', 'string label\nuint32 size\nuint32 stride\n']],
  ),
  'sensor_msgs/msg/Image': withDependencies(
    'std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n',
    [['std_msgs/Header', HEADER], ['builtin_interfaces/Time', TIME]],
  ),
  'sensor_msgs/msg/CompressedImage': withDependencies(
    'std_msgs/Header header\nstring format\nuint8[] data\n',
    [['std_msgs/Header', HEADER], ['builtin_interfaces/Time', TIME]],
  ),
} as const;
export type Ros2SchemaName = keyof typeof ROS2_SCHEMAS;
