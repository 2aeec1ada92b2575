"""Stand-in for ComfyUI's folder_paths: the folder registry and the input/output folders.

Tests point ``base_path`` somewhere temporary with :func:`reset` before loading the pack.
"""
import os

base_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_comfy_root")
models_dir = os.path.join(base_path, "models")
output_directory = os.path.join(base_path, "output")
input_directory = os.path.join(base_path, "input")
temp_directory = os.path.join(base_path, "temp")
folder_names_and_paths = {}


def reset(root):
    """Start over with a fresh ComfyUI tree under ``root``."""
    global base_path, models_dir, output_directory, input_directory, temp_directory
    base_path = str(root)
    models_dir = os.path.join(base_path, "models")
    output_directory = os.path.join(base_path, "output")
    input_directory = os.path.join(base_path, "input")
    temp_directory = os.path.join(base_path, "temp")
    folder_names_and_paths.clear()
    for d in (models_dir, output_directory, input_directory, temp_directory):
        os.makedirs(d, exist_ok=True)


def add_model_folder_path(folder_name, full_folder_path, is_default=False):
    if folder_name in folder_names_and_paths:
        paths = folder_names_and_paths[folder_name][0]
        if full_folder_path not in paths:
            if is_default:
                paths.insert(0, full_folder_path)
            else:
                paths.append(full_folder_path)
    else:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())


def get_folder_paths(folder_name):
    return folder_names_and_paths[folder_name][0][:]


def get_output_directory():
    return output_directory


def get_input_directory():
    return input_directory


def get_temp_directory():
    return temp_directory


def is_within_directory(directory, target):
    directory, target = os.path.abspath(directory), os.path.abspath(target)
    return os.path.commonpath([directory, target]) == directory


def get_annotated_filepath(name, default_dir=None):
    base_dir = default_dir or input_directory
    for suffix, folder in ((" [output]", output_directory), (" [input]", input_directory),
                           (" [temp]", temp_directory)):
        if name.endswith(suffix):
            name, base_dir = name[:-len(suffix)], folder
    path = os.path.abspath(os.path.join(base_dir, name))
    if not is_within_directory(base_dir, path):
        raise ValueError("Invalid file path: {!r}".format(name))
    return path


def get_save_image_path(filename_prefix, output_dir, image_width=0, image_height=0):
    subfolder = os.path.dirname(os.path.normpath(filename_prefix))
    filename = os.path.basename(os.path.normpath(filename_prefix))
    full_output_folder = os.path.join(output_dir, subfolder)
    if not is_within_directory(output_dir, full_output_folder):
        raise Exception("Saving outside the output folder is not allowed.")
    os.makedirs(full_output_folder, exist_ok=True)
    counters = []
    for existing in os.listdir(full_output_folder):
        if existing.startswith(filename + "_"):
            digits = existing[len(filename) + 1:].split("_")[0].split(".")[0]
            if digits.isdigit():
                counters.append(int(digits))
    counter = max(counters) + 1 if counters else 1
    return full_output_folder, filename, counter, subfolder, filename_prefix


def get_filename_list(folder_name):
    paths, extensions = folder_names_and_paths[folder_name]
    found = set()
    for folder in paths:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if not extensions or os.path.splitext(name)[1].lower() in extensions:
                    found.add(os.path.relpath(os.path.join(root, name), folder))
    return sorted(found)


def get_full_path(folder_name, filename):
    if folder_name not in folder_names_and_paths:
        return None
    for folder in folder_names_and_paths[folder_name][0]:
        path = os.path.join(folder, filename)
        if os.path.isfile(path):
            return path
    return None
