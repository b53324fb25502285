"""ROS 2 launch file: a ros2_control robot (mock hardware) driven by Striatum.

    ros2 launch launch/example_ros2_control.launch.py [config:=examples/ros2-peer.yaml] [striatum:=/path/to/striatum]

Starts robot_state_publisher with launch/example_arm.urdf, the controller manager (ros2_control_node) with
launch/example_controllers.yaml, spawns joint_state_broadcaster and forward_velocity_controller, and then
Striatum (launch/striatum.launch.py) with the six-joint arm config. Needs a sourced ROS 2 with ros2_control,
ros2_controllers and robot_state_publisher (apt install ros-$ROS_DISTRO-ros2-control ros-$ROS_DISTRO-ros2-controllers).
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_launch_description() -> LaunchDescription:
    with open(os.path.join(HERE, "example_arm.urdf"), encoding="utf-8") as f:
        robot_description = {"robot_description": f.read()}
    controllers = os.path.join(HERE, "example_controllers.yaml")

    control_node = Node(
        package="controller_manager", executable="ros2_control_node",
        parameters=[robot_description, controllers], output="screen",
    )
    state_publisher = Node(
        package="robot_state_publisher", executable="robot_state_publisher",
        parameters=[robot_description], output="screen",
    )
    broadcaster = Node(
        package="controller_manager", executable="spawner",
        arguments=["joint_state_broadcaster", "--controller-manager", "/controller_manager"],
    )
    forward = Node(
        package="controller_manager", executable="spawner",
        arguments=["forward_velocity_controller", "--controller-manager", "/controller_manager"],
    )
    striatum = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(HERE, "striatum.launch.py")),
        launch_arguments={
            "config": LaunchConfiguration("config"),
            "log_level": LaunchConfiguration("log_level"),
            "robot_id": LaunchConfiguration("robot_id"),
        }.items(),
    )
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value=os.path.normpath(os.path.join(HERE, "..", "examples", "ros2-peer.yaml")),
                              description="robot config YAML (joints must match example_arm.urdf)"),
        DeclareLaunchArgument("log_level", default_value="info"),
        DeclareLaunchArgument("robot_id", default_value=""),
        control_node,
        state_publisher,
        broadcaster,
        # The forward controller after the broadcaster, and Striatum once both are active: it then finds
        # joint states on /joint_states and a subscriber on the command topic.
        RegisterEventHandler(OnProcessExit(target_action=broadcaster, on_exit=[forward])),
        RegisterEventHandler(OnProcessExit(target_action=forward, on_exit=[striatum])),
    ])
