"""ROS 2 launch file: starts `striatum run` with a robot config as a process of the launch.

    ros2 launch launch/striatum.launch.py config:=/path/to/robot.yaml [robot_id:=arm1] [namespace:=/arm1] [log_level:=info]

Striatum is a Node.js program, not a ROS package, so it is launched as a process. With transport.kind ros2 it
joins the ROS graph itself: as a ROS node through rclnodejs when ROS 2 is sourced and rclnodejs is installed,
otherwise on the same DDS wire through Cyclone DDS (transport.backend, docs/ros2.md).
The executable: the `striatum` argument, else this checkout's dist/src/cli/main.js (next to launch/), else
`striatum` on PATH (npm install -g).
"""
import os
import shutil

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration


def default_striatum() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    checkout = os.path.normpath(os.path.join(here, "..", "dist", "src", "cli", "main.js"))
    if os.path.isfile(checkout):
        return checkout
    return shutil.which("striatum") or "striatum"


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument("config", description="robot config YAML"),
        DeclareLaunchArgument("robot_id", default_value="", description="robot.id to use instead of the config's (empty: the config's)"),
        DeclareLaunchArgument("namespace", default_value="", description="ROS namespace for relative topic names, e.g. /arm1 (empty: the config's)"),
        DeclareLaunchArgument("log_level", default_value="info", description="debug, info, warn or error"),
        DeclareLaunchArgument("striatum", default_value=default_striatum(), description="path of the striatum executable"),
        ExecuteProcess(
            cmd=[
                LaunchConfiguration("striatum"),
                "--log-level", LaunchConfiguration("log_level"),
                "--log-format", "json",
                "run",
                "--config", LaunchConfiguration("config"),
                # --flag=value: an empty value stays one argument
                ["--robot-id=", LaunchConfiguration("robot_id")],
                ["--ros-namespace=", LaunchConfiguration("namespace")],
            ],
            name="striatum",
            output="screen",
            # SIGINT first: Striatum puts the motors in their safe state before it exits.
            sigterm_timeout="5",
        ),
    ])
