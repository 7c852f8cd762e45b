"""Layers, as in ``keras.layers``."""

from cnnkit.layers import operations as operations  # op nodes: saving finds them here
from cnnkit.layers.activation import ELU, LeakyReLU, ReLU, Softmax
from cnnkit.layers.attention import (
    AdditiveAttention,
    Attention,
    GroupedQueryAttention,
    GroupQueryAttention,
    MultiHeadAttention,
)
from cnnkit.layers.audio import MelSpectrogram, STFTSpectrogram
from cnnkit.layers.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from cnnkit.layers.augmentation_color import RandomGrayscale, RandomInvert, Solarization
from cnnkit.layers.augmentation_geometric import (
    RandomElasticTransform,
    RandomPerspective,
    RandomShear,
)
from cnnkit.layers.augmentation_histogram import (
    AutoContrast,
    ContrastLimitedAdaptiveHistogramEqualization,
    Equalization,
)
from cnnkit.layers.augmentation_intensity import (
    RandomColorDegeneration,
    RandomColorJitter,
    RandomHue,
    RandomPosterization,
    RandomSaturation,
)
from cnnkit.layers.augmentation_local import RandomErasing, RandomGaussianBlur, RandomSharpness
from cnnkit.layers.augmentation_mixing import CutMix, MixUp
from cnnkit.layers.augmentation_policies import AugMix, RandAugment
from cnnkit.layers.base import InputSpec, KerasTensor, Layer
from cnnkit.layers.bidirectional import Bidirectional
from cnnkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from cnnkit.layers.convolutional import (
    Conv2D,
    Conv2DTranspose,
    DepthwiseConv2D,
    SeparableConv2D,
)
from cnnkit.layers.convolutional1d import Conv1D, Convolution1D
from cnnkit.layers.convolutional1d_variants import (
    Conv1DTranspose,
    DepthwiseConv1D,
    SeparableConv1D,
)
from cnnkit.layers.convolutional3d import (
    Conv3D,
    Conv3DTranspose,
    Convolution3D,
    Convolution3DTranspose,
)
from cnnkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Reshape,
)
from cnnkit.layers.dot import Dot
from cnnkit.layers.einsum_dense import EinsumDense
from cnnkit.layers.embedding import Embedding, Masking, ReversibleEmbedding
from cnnkit.layers.feature_normalization import (
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from cnnkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from cnnkit.layers.noise import ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise
from cnnkit.layers.normalization import BatchNormalization
from cnnkit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AvgPool1D,
    AvgPool2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAvgPool1D,
    GlobalAvgPool2D,
    GlobalMaxPool1D,
    GlobalMaxPool2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPool1D,
    MaxPool2D,
    MaxPooling1D,
    MaxPooling2D,
)
from cnnkit.layers.pooling3d import (
    AveragePooling3D,
    AvgPool3D,
    GlobalAveragePooling3D,
    GlobalAvgPool3D,
    GlobalMaxPool3D,
    GlobalMaxPooling3D,
    MaxPool3D,
    MaxPooling3D,
)
from cnnkit.layers.pooling_adaptive import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from cnnkit.layers.prelu import PReLU
from cnnkit.layers.preprocessing import Rescaling, Resizing
from cnnkit.layers.preprocessing_crop import CenterCrop
from cnnkit.layers.preprocessing_encoding import CategoryEncoding, Discretization
from cnnkit.layers.preprocessing_hashing import HashedCrossing, Hashing
from cnnkit.layers.preprocessing_lookup import IntegerLookup, StringLookup
from cnnkit.layers.preprocessing_normalization import Normalization
from cnnkit.layers.recurrent import GRU, LSTM, SimpleRNN
from cnnkit.layers.regularization import SpatialDropout2D
from cnnkit.layers.regularization_spatial import SpatialDropout1D, SpatialDropout3D
from cnnkit.layers.reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from cnnkit.layers.reshaping_1d_3d import (
    Cropping1D,
    Cropping3D,
    UpSampling1D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding3D,
)
from cnnkit.layers.rnn import RNN
from cnnkit.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from cnnkit.layers.sequence_shape import Permute, RepeatVector
from cnnkit.layers.text_vectorization import TextVectorization
from cnnkit.layers.wrappers import (
    Identity,
    Pipeline,
    SpectralNormalization,
    TimeDistributed,
    Wrapper,
)
from cnnkit.layers.wrappers import deserialize_layer as deserialize
from cnnkit.layers.wrappers import serialize_layer as serialize

Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
Convolution1DTranspose = Conv1DTranspose
SeparableConvolution1D = SeparableConv1D

__all__ = [
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "GRUCell",
    "LSTMCell",
    "RNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "TimeDistributed",
    "ActivityRegularization",
    "AlphaDropout",
    "Dot",
    "GaussianDropout",
    "GaussianNoise",
    "PReLU",
    "Permute",
    "RepeatVector",
    "Identity",
    "Pipeline",
    "SpectralNormalization",
    "Wrapper",
    "AdditiveAttention",
    "Attention",
    "EinsumDense",
    "GroupNormalization",
    "GroupQueryAttention",
    "GroupedQueryAttention",
    "LayerNormalization",
    "MultiHeadAttention",
    "RMSNormalization",
    "UnitNormalization",
    "Conv1D",
    "Convolution1D",
    "Embedding",
    "Masking",
    "AveragePooling1D",
    "AvgPool1D",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "MaxPool1D",
    "MaxPooling1D",
    "ELU",
    "LeakyReLU",
    "ReLU",
    "Softmax",
    "Activation",
    "Add",
    "Average",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Cropping2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GRU",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "Lambda",
    "InputSpec",
    "KerasTensor",
    "LSTM",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "Rescaling",
    "Reshape",
    "Resizing",
    "SeparableConv2D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "SpatialDropout2D",
    "Subtract",
    "TextVectorization",
    "Normalization",
    "STFTSpectrogram",
    "MelSpectrogram",
    "CategoryEncoding",
    "Discretization",
    "CenterCrop",
    "IntegerLookup",
    "StringLookup",
    "HashedCrossing",
    "Hashing",
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
    "ReversibleEmbedding",
    "Convolution1DTranspose",
    "SeparableConvolution1D",
    "serialize",
    "deserialize",
    "AveragePooling3D",
    "AvgPool3D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool3D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling3D",
    "MaxPool3D",
    "MaxPooling3D",
    "SpatialDropout1D",
    "SpatialDropout3D",
    "Cropping1D",
    "Cropping3D",
    "UpSampling1D",
    "UpSampling3D",
    "ZeroPadding1D",
    "ZeroPadding3D",
    "Conv1DTranspose",
    "DepthwiseConv1D",
    "SeparableConv1D",
    "Conv3D",
    "Convolution3D",
    "Conv3DTranspose",
    "Convolution3DTranspose",
    "RandomGrayscale",
    "RandomInvert",
    "Solarization",
    "RandomShear",
    "RandomPerspective",
    "RandomElasticTransform",
    "CutMix",
    "MixUp",
    "RandAugment",
    "AugMix",
    "AutoContrast",
    "ContrastLimitedAdaptiveHistogramEqualization",
    "Equalization",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomErasing",
    "RandomGaussianBlur",
    "RandomHue",
    "RandomPosterization",
    "RandomSaturation",
    "RandomSharpness",
    "UpSampling2D",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]
