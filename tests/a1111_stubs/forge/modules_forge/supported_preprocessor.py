"""Stand-in for Forge's preprocessor base class: no constructor arguments, no label (the
name is shown), ``model_filename_filters`` pick the matching ControlNet models."""


class PreprocessorParameter:
    def __init__(self, minimum=0.0, maximum=1.0, step=0.01, label="Parameter 1", value=0.5, visible=False):
        self.minimum, self.maximum, self.step = minimum, maximum, step
        self.label, self.value, self.visible = label, value, visible


class Preprocessor:
    def __init__(self):
        self.name = "PreprocessorBase"
        self.tags = []
        self.model_filename_filters = []
        self.slider_resolution = PreprocessorParameter(label="Resolution", minimum=128, maximum=2048,
                                                       value=512, step=8, visible=True)
        self.slider_1 = PreprocessorParameter()
        self.slider_2 = PreprocessorParameter()
        self.slider_3 = PreprocessorParameter()
        self.sorting_priority = 0

    def __call__(self, input_image, resolution, slider_1=None, slider_2=None, slider_3=None,
                 input_mask=None, **kwargs):
        return input_image
