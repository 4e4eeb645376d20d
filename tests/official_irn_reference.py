"""An independent transcription of the official IRN network (pkuxmq/Invertible-Image-Rescaling,
codes/models/modules/Inv_arch.py + Subnet_constructor.py), used only as a test oracle for
`irn.load_official`. Kept close to the original's structure on purpose (no FrEIA)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class DenseBlock(nn.Module):
    def __init__(self, channel_in, channel_out, gc=32):
        super().__init__()
        self.conv1 = nn.Conv2d(channel_in, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(channel_in + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(channel_in + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(channel_in + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(channel_in + 4 * gc, channel_out, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1))


class InvBlockExp(nn.Module):
    def __init__(self, channel_num, channel_split_num, clamp=1.0, gc=32):
        super().__init__()
        self.split_len1 = channel_split_num
        self.split_len2 = channel_num - channel_split_num
        self.clamp = clamp
        self.F = DenseBlock(self.split_len2, self.split_len1, gc)
        self.G = DenseBlock(self.split_len1, self.split_len2, gc)
        self.H = DenseBlock(self.split_len1, self.split_len2, gc)

    def forward(self, x, rev=False):
        x1, x2 = (x.narrow(1, 0, self.split_len1), x.narrow(1, self.split_len1, self.split_len2))
        if not rev:
            y1 = x1 + self.F(x2)
            self.s = self.clamp * (torch.sigmoid(self.H(y1)) * 2 - 1)
            y2 = x2.mul(torch.exp(self.s)) + self.G(y1)
        else:
            self.s = self.clamp * (torch.sigmoid(self.H(x1)) * 2 - 1)
            y2 = (x2 - self.G(x1)).div(torch.exp(self.s))
            y1 = x1 - self.F(y2)
        return torch.cat((y1, y2), 1)

    def jacobian(self, x, rev=False):
        jac = torch.sum(self.s) if not rev else -torch.sum(self.s)
        return jac / x.shape[0]


class HaarDownsampling(nn.Module):
    def __init__(self, channel_in):
        super().__init__()
        self.channel_in = channel_in
        self.haar_weights = torch.ones(4, 1, 2, 2)
        self.haar_weights[1, 0, 0, 1] = -1
        self.haar_weights[1, 0, 1, 1] = -1
        self.haar_weights[2, 0, 1, 0] = -1
        self.haar_weights[2, 0, 1, 1] = -1
        self.haar_weights[3, 0, 1, 0] = -1
        self.haar_weights[3, 0, 0, 1] = -1
        self.haar_weights = torch.cat([self.haar_weights] * self.channel_in, 0)
        self.haar_weights = nn.Parameter(self.haar_weights)
        self.haar_weights.requires_grad = False

    def forward(self, x, rev=False):
        if not rev:
            self.elements = x.shape[1] * x.shape[2] * x.shape[3]
            self.last_jac = self.elements / 4 * np.log(1 / 16.)
            out = F.conv2d(x, self.haar_weights, bias=None, stride=2,
                           groups=self.channel_in) / 4.0
            out = out.reshape([x.shape[0], self.channel_in, 4, x.shape[2] // 2, x.shape[3] // 2])
            out = torch.transpose(out, 1, 2)
            out = out.reshape([x.shape[0], self.channel_in * 4, x.shape[2] // 2, x.shape[3] // 2])
            return out
        self.elements = x.shape[1] * x.shape[2] * x.shape[3]
        self.last_jac = self.elements / 4 * np.log(16.)
        out = x.reshape([x.shape[0], 4, self.channel_in, x.shape[2], x.shape[3]])
        out = torch.transpose(out, 1, 2)
        out = out.reshape([x.shape[0], self.channel_in * 4, x.shape[2], x.shape[3]])
        return F.conv_transpose2d(out, self.haar_weights, bias=None, stride=2,
                                  groups=self.channel_in)

    def jacobian(self, x, rev=False):
        return self.last_jac


class InvRescaleNet(nn.Module):
    def __init__(self, channel_in=3, channel_out=3, block_num=(8, 8), down_num=2, gc=32):
        super().__init__()
        operations = []
        current_channel = channel_in
        for i in range(down_num):
            operations.append(HaarDownsampling(current_channel))
            current_channel *= 4
            for _ in range(block_num[i]):
                operations.append(InvBlockExp(current_channel, channel_out, gc=gc))
        self.operations = nn.ModuleList(operations)

    def forward(self, x, rev=False):
        out = x
        ops = self.operations if not rev else reversed(self.operations)
        for op in ops:
            out = op.forward(out, rev)
        return out
