"""ROS 2 launch file: starts `striatum run` with a robot config.

    ros2 launch launch/striatum.launch.py config:=/path/to/robot.yaml

Striatum is a Node.js process, not a ROS node package, so it is launched as a process; with transport.kind
ros2 it joins the ROS graph itself through rclnodejs.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration("config")
    log_level = LaunchConfiguration("log_level")
    return LaunchDescription([
        DeclareLaunchArgument("config", description="robot config YAML"),
        DeclareLaunchArgument("log_level", default_value="info"),
        DeclareLaunchArgument("striatum", default_value="striatum", description="path to the striatum command"),
        ExecuteProcess(
            cmd=[LaunchConfiguration("striatum"), "--log-level", log_level, "--log-format", "json", "run", "--config", config],
            output="screen",
            # SIGINT first: Striatum puts the motors in their safe state before it exits.
            sigterm_timeout="5",
        ),
    ])
