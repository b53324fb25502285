"""ROS 2 launch file: Striatum on the Cyclone DDS backend beside ros2-bridge's C robot peer (ros2_control-style
fake hardware), for machines without ros2_control. No rclnodejs needed; ROS 2 tools on the same domain and
network see the same topics (/joint_states, /forward_velocity_controller/commands, /striatum/state, /diagnostics).

    cmake -S ros2-bridge -B ros2-bridge/build && cmake --build ros2-bridge/build
    ros2 launch launch/example_cyclonedds_peer.launch.py [rate_hz:=200]
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription, TimerAction
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
JOINTS = "base,shoulder,elbow,wrist_pitch,wrist_roll,gripper"


def generate_launch_description() -> LaunchDescription:
    peer = ExecuteProcess(
        cmd=[os.path.join(ROOT, "ros2-bridge", "build", "ros2_robot_peer"), "--joints", JOINTS,
             "--rate", LaunchConfiguration("rate_hz"), "--command-topic", "/forward_velocity_controller/commands"],
        name="robot_peer", output="screen",
    )
    striatum = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, "striatum.launch.py")),
        launch_arguments={"config": os.path.join(ROOT, "examples", "ros2-peer.yaml"), "log_level": LaunchConfiguration("log_level")}.items(),
    )
    return LaunchDescription([
        DeclareLaunchArgument("rate_hz", default_value="200", description="joint state rate of the robot peer"),
        DeclareLaunchArgument("log_level", default_value="info"),
        peer,
        # The peer publishes joint states first; Striatum waits for them at start-up anyway (startup_timeout_ms).
        TimerAction(period=1.0, actions=[striatum]),
    ])
